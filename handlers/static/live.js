// Keeps a part of the page current without a reload: every element with
// data-live="<url>" is refreshed from that URL every few seconds (the
// server renders the HTML; nothing is built here). A failed fetch (signed
// out, offline) leaves the part as it was.
(function () {
  "use strict";
  var every = 4000;
  function refresh(el) {
    fetch(el.dataset.live, { credentials: "same-origin", headers: { "Accept": "text/html" }, redirect: "error" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { if (html !== el.dataset.last) { el.innerHTML = html; el.dataset.last = html; } })
      .catch(function () {});
  }
  document.querySelectorAll("[data-live]").forEach(function (el) {
    setInterval(function () { refresh(el); }, every);
  });
})();
