// A background job's page: ask for its progress every two seconds and show it (the stage is a polite live
// region, so screen readers hear it change); reload once the job is over, to show its result. Without
// JavaScript the page's own button shows the progress again.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box || box.getAttribute("data-over") === "yes" || !window.fetch) return;
  var stage = document.getElementById("job-stage");
  var bar = document.getElementById("job-progress");
  var refresh = document.getElementById("job-refresh");
  if (refresh) refresh.parentNode.hidden = true;

  function show(status) {
    if (status.over) { window.location.reload(); return; }
    var text = status.stage.charAt(0).toUpperCase() + status.stage.slice(1);
    if (status.percent !== null) {
      text += ": " + status.percent + "%";
      bar.value = status.percent;
    } else {
      bar.removeAttribute("value");
    }
    if (stage.textContent !== text + ".") stage.textContent = text + ".";
    window.setTimeout(poll, 2000);
  }

  function poll() {
    window.fetch(box.getAttribute("data-status"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : Promise.reject(answer.status); })
      .then(show)
      .catch(function () { if (refresh) refresh.parentNode.hidden = false; });
  }

  window.setTimeout(poll, 2000);
})();
