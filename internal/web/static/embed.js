/* Herald embeddable signup form. Renders into every .herald-signup element
   on the page, posts cross-origin without credentials, and shows Herald's
   messages in place. Without JavaScript the element's own link or form is
   what readers see. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script ? new URL(script.src).origin + new URL(script.src).pathname.replace(/\/embed\.js$/, "") : "";
  var css = ".herald-form{font:inherit;max-width:480px;border:1px solid #d4d4d8;border-radius:8px;padding:16px}" +
    ".herald-form h3{margin:0 0 4px;font-size:1.15em}.herald-form p{margin:4px 0 12px}" +
    ".herald-form label{display:block;margin:8px 0 4px;font-weight:600}" +
    ".herald-form input[type=email],.herald-form input[type=text]{width:100%;box-sizing:border-box;padding:8px;font:inherit;border:1px solid #a1a1aa;border-radius:4px}" +
    ".herald-form .herald-check{display:flex;gap:8px;font-weight:400;align-items:flex-start}" +
    ".herald-form .herald-error{color:#b91c1c;font-weight:600}.herald-form .herald-ok{color:#166534;font-weight:600}" +
    ".herald-form .herald-disclosure{font-size:.85em;color:#52525b}" +
    ".herald-form button{padding:10px 18px;font:inherit;font-weight:600;border:0;border-radius:4px;background:#1d4ed8;color:#fff;cursor:pointer}" +
    ".herald-form .herald-hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]); }
    if (text != null) e.textContent = text;
    return e;
  }

  function render(box, cfg) {
    var pre = (box.getAttribute("data-herald-lists") || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    var uid = "herald-" + Math.random().toString(36).slice(2, 8);
    var form = el("form", { "class": "herald-form", action: cfg.action, method: "post", novalidate: "" });
    form.appendChild(el("h3", {}, "Sign up to our free newsletters"));
    form.appendChild(el("p", {}, "Get the best updates straight to your inbox."));
    form.appendChild(el("label", { "for": uid + "-email" }, "Email address"));
    var email = el("input", { type: "email", name: "email", id: uid + "-email", required: "", autocomplete: "email", maxlength: "254" });
    form.appendChild(email);
    var emailErr = el("p", { "class": "herald-error", role: "alert", hidden: "" });
    form.appendChild(emailErr);
    form.appendChild(el("label", { "for": uid + "-name" }, "Name (optional)"));
    form.appendChild(el("input", { type: "text", name: "name", id: uid + "-name", autocomplete: "name", maxlength: "200" }));
    var fs = el("fieldset", { "class": "herald-lists" });
    fs.appendChild(el("legend", {}, "Newsletters"));
    cfg.lists.forEach(function (l) {
      var lab = el("label", { "class": "herald-check" });
      var cb = el("input", { type: "checkbox", name: "lists", value: l.slug });
      if (pre.indexOf(l.slug) >= 0) cb.checked = true;
      lab.appendChild(cb);
      var span = el("span", {});
      span.appendChild(el("strong", {}, l.name));
      if (l.description) {
        span.appendChild(el("br", {}));
        span.appendChild(el("small", {}, l.description));
      }
      lab.appendChild(span);
      fs.appendChild(lab);
    });
    var listErr = el("p", { "class": "herald-error", role: "alert", hidden: "" });
    fs.appendChild(listErr);
    form.appendChild(fs);
    var hp = el("div", { "class": "herald-hp", "aria-hidden": "true" });
    hp.appendChild(el("input", { type: "text", name: "website", tabindex: "-1", autocomplete: "off" }));
    form.appendChild(hp);
    form.appendChild(el("p", { "class": "herald-disclosure", "data-version": String(cfg.disclosure.version) }, cfg.disclosure.text));
    // Lists connected to Mailchimp have a disclosure of their own, which
    // names Mailchimp; the versions shown go into the consent ledger.
    var shown = {};
    cfg.lists.forEach(function (l) {
      if (!l.disclosure) return;
      shown[l.slug] = l.disclosure.version;
      form.appendChild(el("p", { "class": "herald-disclosure", "data-version": String(l.disclosure.version), "data-list": l.slug }, l.disclosure.text));
    });
    var formErr = el("p", { "class": "herald-error", role: "alert", hidden: "" });
    form.appendChild(formErr);
    var btn = el("button", { type: "submit" }, "Subscribe");
    form.appendChild(btn);

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      [emailErr, listErr, formErr].forEach(function (p) { p.hidden = true; p.textContent = ""; });
      var lists = [];
      form.querySelectorAll("input[name=lists]:checked").forEach(function (c) { lists.push(c.value); });
      var body = {
        email: email.value, name: form.elements.name.value, lists: lists,
        website: form.elements.website.value, source: location.href,
        disclosure_version: cfg.disclosure.version,
        list_disclosures: shown
      };
      btn.disabled = true;
      fetch(cfg.action, {
        method: "POST", mode: "cors", credentials: "omit",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body)
      }).then(function (res) {
        return res.json().then(function (data) { return { ok: res.ok, data: data }; });
      }).then(function (r) {
        btn.disabled = false;
        if (r.ok) {
          var done = el("p", { "class": "herald-ok", role: "status" }, r.data.message);
          form.replaceChildren(done);
          return;
        }
        var e = r.data.error || { message: "Something went wrong. Please try again." };
        var target = e.field === "lists" ? listErr : e.field === "email" ? emailErr : formErr;
        target.textContent = e.message;
        target.hidden = false;
      }).catch(function () {
        btn.disabled = false;
        formErr.textContent = "We could not reach the newsletter service. Please try again.";
        formErr.hidden = false;
      });
    });
    box.replaceChildren(form);
  }

  function init() {
    var boxes = document.querySelectorAll(".herald-signup");
    if (!boxes.length) return;
    var style = el("style", {}, css);
    document.head.appendChild(style);
    fetch(base + "/subscribe/form.json", { mode: "cors", credentials: "omit", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (cfg) { boxes.forEach(function (b) { render(b, cfg); }); })
      .catch(function () { /* keep the plain link */ });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
