// Check-in page: keep the scan field ready, and, where the browser has a barcode detector and a
// camera, scan a ticket's QR code with the camera. Plain JavaScript, no libraries; the page works
// without it (a USB or Bluetooth scanner types the code and Enter).
(function () {
  "use strict";
  var script = document.currentScript;
  var form = document.getElementById("scan-form");
  if (!form) return;
  var field = form.querySelector("input[name='token']");
  var checkOnly = form.querySelector("input[name='check_only']");
  var submit = form.querySelector("button[type='submit']");

  if (field) {
    field.value = "";
    field.focus();
  }
  // The button says what Enter will do.
  if (checkOnly && submit && submit.dataset.admit) {
    checkOnly.addEventListener("change", function () {
      submit.textContent = checkOnly.checked ? submit.dataset.check : submit.dataset.admit;
      if (field) field.focus();
    });
  }

  var cameraButton = document.getElementById("camera-scan");
  var box = document.getElementById("camera");
  var video = document.getElementById("camera-video");
  var status = document.getElementById("camera-status");
  var stopButton = document.getElementById("camera-stop");
  var unavailable = document.getElementById("camera-unavailable");
  function explain() {
    // Say why there is no camera button, rather than draw one that does nothing.
    if (unavailable) unavailable.hidden = false;
  }
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices ||
      !navigator.mediaDevices.getUserMedia || !cameraButton) {
    explain();
    return;
  }
  var stream = null;
  var timer = null;

  function stop() {
    if (timer) window.clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    box.hidden = true;
    if (field) field.focus();
  }

  window.BarcodeDetector.getSupportedFormats().then(function (formats) {
    if (formats.indexOf("qr_code") === -1) { explain(); return; }
    cameraButton.hidden = false;
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });

    function look() {
      detector.detect(video).then(function (codes) {
        if (codes.length && codes[0].rawValue) {
          field.value = codes[0].rawValue;
          stop();
          form.requestSubmit ? form.requestSubmit() : form.submit();
          return;
        }
        timer = window.setTimeout(look, 200);
      }, function () {
        timer = window.setTimeout(look, 500);
      });
    }

    cameraButton.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (media) {
          stream = media;
          video.srcObject = media;
          video.hidden = false;
          box.hidden = false;
          status.textContent = script.dataset.looking || "";
          return video.play();
        })
        .then(function () { look(); })
        .catch(function () {
          stop();
          status.textContent = script.dataset.noCamera || "";
          box.hidden = false;
          video.hidden = true;
        });
    });
    stopButton.addEventListener("click", stop);
  }).catch(explain);  // no detector after all: the field still works, and we say so
})();
