/* Entrada box office: read the buyer's Alipay payment code (barcode or QR) with the camera, or
   from a photo of it, into the payment code field, then submit. The browser's BarcodeDetector
   where it has one; else ZXing (static/vendor/zxing-library, loaded before this file). Typing or
   a USB scanner always works; the buttons appear only where reading can work. */
(function () {
  "use strict";
  var script = document.currentScript;
  var form = document.getElementById("alipay-form");
  if (!form) return;
  var field = form.querySelector("input[name='buyer_code']");
  var cameraButton = document.getElementById("scan-camera");
  var photoLabel = document.getElementById("scan-photo-label");
  var photoInput = document.getElementById("scan-photo");
  var box = document.getElementById("scan-box");
  var video = document.getElementById("scan-video");
  var stopButton = document.getElementById("scan-stop");
  var status = document.getElementById("scan-status");
  var FORMATS = ["code_128", "qr_code"];

  function say(key) { if (status) status.textContent = (script && script.dataset[key]) || ""; }

  // The decoder: {detect(source) -> Promise<string|null>} over BarcodeDetector or ZXing.
  function nativeDecoder() {
    if (!("BarcodeDetector" in window)) return Promise.resolve(null);
    return window.BarcodeDetector.getSupportedFormats().then(function (supported) {
      var formats = FORMATS.filter(function (f) { return supported.indexOf(f) !== -1; });
      if (!formats.length) return null;
      var detector = new window.BarcodeDetector({ formats: formats });
      return {
        name: "BarcodeDetector",
        detect: function (source) {
          return detector.detect(source).then(function (codes) {
            return codes.length ? codes[0].rawValue : null;
          });
        }
      };
    }, function () { return null; });
  }
  function zxingDecoder() {
    if (!window.ZXing || !window.ZXing.BrowserMultiFormatReader) return null;
    var hints = new Map();
    hints.set(window.ZXing.DecodeHintType.POSSIBLE_FORMATS,
      [window.ZXing.BarcodeFormat.CODE_128, window.ZXing.BarcodeFormat.QR_CODE]);
    hints.set(window.ZXing.DecodeHintType.TRY_HARDER, true);
    var reader = new window.ZXing.BrowserMultiFormatReader(hints);
    return {
      name: "ZXing",
      detect: function (source) {
        try {
          // A still image, or the video's current frame drawn onto a canvas.
          var canvas = document.createElement("canvas");
          canvas.width = source.videoWidth || source.naturalWidth || source.width;
          canvas.height = source.videoHeight || source.naturalHeight || source.height;
          if (!canvas.width || !canvas.height) return Promise.resolve(null);
          var context = canvas.getContext("2d");
          // White under a transparent image (an SVG, a PNG screenshot): bars need a background.
          context.fillStyle = "#fff";
          context.fillRect(0, 0, canvas.width, canvas.height);
          context.drawImage(source, 0, 0, canvas.width, canvas.height);
          var luminance = new window.ZXing.HTMLCanvasElementLuminanceSource(canvas);
          var bitmap = new window.ZXing.BinaryBitmap(new window.ZXing.HybridBinarizer(luminance));
          return Promise.resolve(reader.decodeBitmap(bitmap).getText());
        } catch (error) {
          return Promise.resolve(null);  // NotFoundException: no code in this frame
        }
      }
    };
  }
  var decoderReady = nativeDecoder().then(function (native) { return native || zxingDecoder(); });

  function use(code) {
    field.value = String(code).replace(/\D/g, "");
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  // For tests and for support: decode an <img> or <video> with whichever decoder this page uses.
  window.EntradaScan = {
    decoder: function () { return decoderReady.then(function (d) { return d ? d.name : ""; }); },
    decode: function (source) {
      return decoderReady.then(function (d) { return d ? d.detect(source) : null; });
    }
  };

  decoderReady.then(function (decoder) {
    if (!decoder) return;
    // A photo works everywhere, also over plain http where the live camera is not allowed.
    if (photoLabel && photoInput) {
      photoLabel.hidden = false;
      photoInput.addEventListener("change", function () {
        var file = photoInput.files && photoInput.files[0];
        if (!file) return;
        var image = new Image();
        var url = URL.createObjectURL(file);
        image.onload = function () {
          decoder.detect(image).then(function (code) {
            URL.revokeObjectURL(url);
            if (code) use(code); else say("notFound");
          });
        };
        image.onerror = function () { URL.revokeObjectURL(url); say("notFound"); };
        image.src = url;
      });
    }
    if (!cameraButton || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
        !window.isSecureContext) {
      return;
    }
    cameraButton.hidden = false;
    var stream = null;
    var timer = null;
    function stop() {
      if (timer) window.clearTimeout(timer);
      timer = null;
      if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
      box.hidden = true;
      field.focus();
    }
    function look() {
      decoder.detect(video).then(function (code) {
        if (code) { stop(); use(code); return; }
        timer = window.setTimeout(look, 250);
      }, function () { timer = window.setTimeout(look, 500); });
    }
    cameraButton.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (media) {
          stream = media;
          video.srcObject = media;
          box.hidden = false;
          say("looking");
          return video.play();
        })
        .then(look)
        .catch(function () { stop(); say("noCamera"); });
    });
    if (stopButton) stopButton.addEventListener("click", stop);
  });
})();
