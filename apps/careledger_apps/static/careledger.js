// Small helps the pages work without: times in the viewer's local time, a busy state on buttons of actions
// that take time, and a form's problems read out first. Every page works the same with JavaScript off.
(function () {
  "use strict";

  // <time datetime="…Z" data-local> holds readable UTC text; show it in local time (the UTC stays in the title).
  function localize(root) {
    var format;
    try {
      format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
    } catch (e) {
      return;
    }
    Array.prototype.forEach.call((root || document).querySelectorAll("time[data-local]"), function (el) {
      var moment = new Date(el.getAttribute("datetime"));
      if (isNaN(moment.getTime()) || el.dataset.shown) return;
      if (!el.title) el.title = el.getAttribute("datetime");
      el.title = el.title + " (UTC)";
      el.textContent = format.format(moment);
      el.dataset.shown = "local";
    });
  }

  // A form whose submit button has data-busy: once sent, the button says so and cannot be pressed twice.
  // Disabled a moment later, so the browser still sends the button's own name and value.
  function busy(event) {
    var form = event.target;
    var button = event.submitter || form.querySelector("button[type=submit]");
    if (!button || !button.hasAttribute("data-busy")) return;
    if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
    form.setAttribute("aria-busy", "true");
    button.dataset.label = button.innerHTML;
    var status = document.getElementById("busy-status");
    window.setTimeout(function () {
      button.disabled = true;
      button.textContent = button.getAttribute("data-busy");
      if (status) status.textContent = button.getAttribute("data-busy") + " Please wait.";
    }, 0);
  }

  // Back to a page kept by the browser's back button: its buttons work again.
  function restore(event) {
    if (!event.persisted) return;
    Array.prototype.forEach.call(document.querySelectorAll("form[aria-busy=true]"), function (form) {
      form.removeAttribute("aria-busy");
      Array.prototype.forEach.call(form.querySelectorAll("button[data-label]"), function (button) {
        button.disabled = false;
        button.innerHTML = button.dataset.label;
      });
    });
  }

  window.CareLedger = { localize: localize };
  document.addEventListener("submit", busy);
  window.addEventListener("pageshow", restore);
  localize(document);
  var problems = document.querySelector(".error-summary");
  if (problems) problems.focus();
})();
