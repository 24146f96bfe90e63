/* Entrada box office: the counter screen's steppers and running total, keyboard use, change due,
   the drawer count's live variance, and one-tap printing of slips. Plain JavaScript; every page
   still works without it (the server computes and checks everything again). */
(function () {
  "use strict";

  function places(currency) {
    return currency === "JPY" || currency === "KRW" ? 0 : 2;
  }
  function money(amount, currency) {
    var digits = places(currency);
    var text = Number(amount).toLocaleString("en-US", {
      minimumFractionDigits: digits, maximumFractionDigits: digits
    });
    return currency + " " + text;
  }
  // Amounts are added in minor units (integers), never as floating-point money.
  function minor(text, currency) {
    var clean = String(text || "").replace(/,/g, "").trim();
    if (!/^\d+(\.\d+)?$/.test(clean)) return null;
    var parts = clean.split(".");
    var digits = places(currency);
    var fraction = (parts[1] || "");
    if (fraction.length > digits) return null;
    while (fraction.length < digits) fraction += "0";
    return parseInt(parts[0] + fraction, 10);
  }
  function major(units, currency) {
    return units / Math.pow(10, places(currency));
  }

  // --- Sell: +/- per ticket type, digits, and the running total always in view.
  var counter = document.getElementById("counter-form");
  if (counter) {
    var currency = counter.getAttribute("data-currency");
    var quantities = counter.querySelectorAll("input.qty");
    var totalOut = counter.querySelector("[data-total]");
    var update = function () {
      var sum = 0;
      quantities.forEach(function (input) {
        var n = parseInt(input.value, 10);
        var price = minor(input.getAttribute("data-price"), currency) || 0;
        if (n > 0) sum += n * price;
      });
      if (totalOut) totalOut.textContent = money(major(sum, currency), currency);
    };
    var step = function (input, by) {
      var n = parseInt(input.value, 10) || 0;
      n = Math.min(Math.max(n + by, 0), parseInt(input.max || "99", 10));
      input.value = String(n);
      update();
    };
    counter.querySelectorAll("button[data-step]").forEach(function (button) {
      button.addEventListener("click", function () {
        var input = document.getElementById(button.getAttribute("data-for"));
        if (input) step(input, parseInt(button.getAttribute("data-step"), 10));
      });
    });
    quantities.forEach(function (input) {
      input.addEventListener("input", update);
      input.addEventListener("focus", function () { input.select(); });
      input.addEventListener("keydown", function (event) {
        // + and - step the quantity (a number field would otherwise take "-" as a sign).
        if (event.key === "+" || event.key === "=") { event.preventDefault(); step(input, 1); }
        else if (event.key === "-") { event.preventDefault(); step(input, -1); }
      });
    });
    update();
  }

  // --- Pay in cash: the change due, large, as the amount is typed.
  var cashForm = document.getElementById("cash-form");
  if (cashForm) {
    var cashCurrency = cashForm.getAttribute("data-currency");
    var totalEl = document.querySelector("[data-amount]");
    var total = minor(totalEl ? totalEl.getAttribute("data-amount") : "0", cashCurrency) || 0;
    var tendered = cashForm.querySelector("input[name='tendered']");
    var changeOut = cashForm.querySelector("[data-change]");
    var showChange = function () {
      var given = minor(tendered.value, cashCurrency);
      if (given === null || given < total) { changeOut.textContent = "–"; return; }
      changeOut.textContent = money(major(given - total, cashCurrency), cashCurrency);
    };
    if (tendered && changeOut) {
      tendered.addEventListener("input", showChange);
      showChange();
    }
  }

  // --- Close a shift: counted, and the variance against what is expected, as the count goes.
  var closeForm = document.getElementById("close-form");
  if (closeForm) {
    var closeCurrency = closeForm.getAttribute("data-currency");
    var expected = minor(closeForm.getAttribute("data-expected"), closeCurrency) || 0;
    var countedOut = closeForm.querySelector("[data-counted]");
    var varianceOut = closeForm.querySelector("[data-variance]");
    var fields = closeForm.querySelectorAll("input[data-denomination]");
    var recount = function () {
      var sum = 0;
      fields.forEach(function (input) {
        if (input.name === "total") { sum += minor(input.value, closeCurrency) || 0; return; }
        var pieces = parseInt(input.value, 10);
        var value = minor(input.getAttribute("data-denomination"), closeCurrency) || 0;
        if (pieces > 0) sum += pieces * value;
      });
      countedOut.textContent = money(major(sum, closeCurrency), closeCurrency);
      var diff = sum - expected;
      varianceOut.textContent = (diff < 0 ? "-" : "") + money(major(Math.abs(diff), closeCurrency), closeCurrency);
    };
    fields.forEach(function (input) { input.addEventListener("input", recount); });
    recount();
  }

  // --- Slips: one tap prints (the print stylesheet lays it out 80 mm wide).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
