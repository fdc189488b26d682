// The portal's live access log: committed access decisions and inferences arrive as server-sent events.
// Each new row is also said in words in a polite live region, for screen readers.
(function () {
  var table = document.getElementById("log");
  if (!table || !window.EventSource) return;
  var body = table.querySelector("tbody");
  var status = document.getElementById("live-status");
  var announcements = document.getElementById("live-announcements");
  var labels = {};
  try { labels = JSON.parse(table.dataset.purposes || "{}"); } catch (e) { labels = {}; }
  var source = new EventSource(table.dataset.stream);
  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
  function timeCell(row, iso) {
    var td = document.createElement("td");
    var time = document.createElement("time");
    time.setAttribute("datetime", iso);
    time.setAttribute("data-local", "");
    time.title = iso;
    time.textContent = iso;
    td.appendChild(time);
    row.appendChild(td);
    if (window.CareLedger) window.CareLedger.localize(td);
  }
  function announce(text) {
    if (!announcements) return;
    var line = document.createElement("p");
    line.textContent = text;
    announcements.appendChild(line);
    while (announcements.childNodes.length > 5) announcements.removeChild(announcements.firstChild);
  }
  source.addEventListener("open", function () { status.textContent = "Live: new accesses appear as they are recorded."; });
  source.addEventListener("error", function () { status.textContent = "Live updates paused; reload the page to see new accesses."; });
  function insert(row) {  // newest first; the "nothing matches" row goes once something does
    var empty = body.querySelector("tr.empty");
    if (empty) body.removeChild(empty);
    body.insertBefore(row, body.firstChild);
  }
  source.addEventListener("access", function (message) {
    var e = JSON.parse(message.data);
    var row = document.createElement("tr");
    var purpose = (labels[e.purpose] || e.purpose) + (e.emergency ? " (EMERGENCY)" : "");
    row.className = "live" + (e.emergency ? " emergency" : "");
    var who = e.requester_name || e.requester;
    timeCell(row, e.time);
    cell(row, who).title = e.requester;  // the ledger's id on hover, as on the rows the page rendered
    cell(row, e.org_name || e.requester_org).title = e.requester_org;
    [e.record_id, purpose, e.decision].forEach(function (text) { cell(row, text); });
    insert(row);
    announce((e.emergency ? "Emergency access: " : "New access: ") + who + " asked to open a record for " +
      purpose + ", " + e.decision + ".");
  });
  source.addEventListener("inference", function (message) {
    var e = JSON.parse(message.data);
    var row = document.createElement("tr");
    row.className = "live inference";
    timeCell(row, new Date().toISOString());
    var who = e.requester_name || e.requester;
    cell(row, who).title = e.requester;
    ["", e.record_id, "model " + e.model, "inference recorded"].forEach(function (text) { cell(row, text); });
    insert(row);
    announce("A model (" + e.model + ") ran on one of your records for " + who + ".");
  });
})();
