/* Entrada shop: the hold countdown and, on the pay page, polling the payment's status.
   Plain JavaScript, no libraries. Without JavaScript the pages still work: reload to see progress. */
(function () {
  "use strict";

  function formatSeconds(total) {
    var minutes = Math.floor(total / 60);
    var seconds = total % 60;
    return minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
  }

  // --- Hold countdown: the server says how many seconds are left; we count down from there.
  var timer = document.querySelector("[data-hold-seconds]");
  var box = document.querySelector("[data-status-url]");
  var holdEndsAt = null;
  var ticking = null;
  function renderHold() {
    if (!timer || holdEndsAt === null) return;
    var left = Math.max(0, Math.round((holdEndsAt - Date.now()) / 1000));
    var out = timer.querySelector("[data-hold-left]");
    if (out) out.textContent = formatSeconds(left);
    if (left === 0) {
      window.clearInterval(ticking);
      // The server decides what an ended hold means; while a payment is being watched the
      // polling below brings the news, otherwise reload once to show it.
      if (!box) window.location.reload();
    }
  }
  if (timer) {
    holdEndsAt = Date.now() + parseInt(timer.getAttribute("data-hold-seconds"), 10) * 1000;
    renderHold();
    ticking = window.setInterval(renderHold, 1000);
  }

  // --- Payment status polling (pay page only, while the QR is shown).
  if (!box) return;
  var statusUrl = box.getAttribute("data-status-url");
  var shownState = box.getAttribute("data-shown-state");
  var statusLine = box.querySelector("[data-pay-status]");
  var failures = 0;

  function poll() {
    fetch(statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        if (typeof data.seconds_left === "number" && timer) {
          holdEndsAt = Date.now() + data.seconds_left * 1000;
        }
        if (data.paid) {
          if (statusLine) statusLine.textContent = data.message;
          window.location.assign(data.next);
          return;
        }
        if (data.payment_state !== shownState) {
          // Something changed (a QR appeared, or the payment failed, expired or was cancelled):
          // the server renders what it means and what the buyer can do now.
          window.location.assign(data.next);
          return;
        }
        window.setTimeout(poll, 2000);
      })
      .catch(function () {
        // A dropped connection on a phone is normal: keep trying, a little more slowly.
        failures += 1;
        window.setTimeout(poll, Math.min(2000 * (failures + 1), 10000));
      });
  }
  window.setTimeout(poll, 2000);
})();
