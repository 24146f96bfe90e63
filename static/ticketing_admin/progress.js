// The slot cancellation's progress bar: asks the JSON status every 1.5 s while the task runs,
// and reloads the page once it is done, to show the final list of orders and failures.
(function () {
  "use strict";
  var box = document.getElementById("slot-progress");
  if (!box || box.dataset.state === "done") {
    return;
  }
  var bar = document.getElementById("slot-progress-bar");
  function show(status) {
    bar.max = Math.max(status.total, 1);
    bar.value = status.total ? status.finished : 0;
    bar.textContent = status.percent + "%";
    box.querySelectorAll("[data-field]").forEach(function (node) {
      node.textContent = status[node.dataset.field];
    });
  }
  function poll() {
    fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error(answer.status);
        }
        return answer.json();
      })
      .then(function (status) {
        show(status);
        if (status.state === "done") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1500);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }
  window.setTimeout(poll, 1500);
})();
