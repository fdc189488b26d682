// The portal's live access log: committed access decisions and inferences arrive as server-sent events.
(function () {
  var table = document.getElementById("log");
  if (!table || !window.EventSource) return;
  var body = table.querySelector("tbody");
  var status = document.getElementById("live-status");
  var source = new EventSource(table.dataset.stream);
  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
  source.addEventListener("open", function () { status.textContent = "Live: new accesses appear as they are recorded."; });
  source.addEventListener("access", function (message) {
    var e = JSON.parse(message.data);
    var row = document.createElement("tr");
    row.className = "live" + (e.emergency ? " emergency" : "");
    [e.time, e.requester, e.requester_org, e.record_id, e.purpose + (e.emergency ? " (EMERGENCY)" : ""), e.decision]
      .forEach(function (text) { cell(row, text); });
    body.insertBefore(row, body.firstChild);
  });
  source.addEventListener("inference", function (message) {
    var e = JSON.parse(message.data);
    var row = document.createElement("tr");
    row.className = "live inference";
    ["now", e.requester, "", e.record_id, "model " + e.model, "inference recorded"].forEach(function (text) { cell(row, text); });
    body.insertBefore(row, body.firstChild);
  });
})();
