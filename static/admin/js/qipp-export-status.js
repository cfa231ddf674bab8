// An export's page while the worker makes it: every five seconds, fetch the
// page again and swap in its status, announced politely to screen readers,
// until the export is ready, refused or failed. Without JavaScript, the
// page's "check again now" link does the same by hand.
(function () {
  "use strict";

  var EVERY_MS = 5000;

  function check() {
    var status = document.getElementById("export-status");
    if (!status || status.dataset.working !== "true") {
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        return response.ok ? response.text() : Promise.reject(response.status);
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("export-status");
        if (fresh) {
          status.replaceChildren.apply(status, Array.from(fresh.childNodes));
          status.dataset.working = fresh.dataset.working;
        }
      })
      .catch(function () {
        // A failed check (a network blip, a restart) is tried again next time.
      })
      .finally(function () {
        window.setTimeout(check, EVERY_MS);
      });
  }

  window.setTimeout(check, EVERY_MS);
})();
