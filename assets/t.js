/* influtrack first-party click keeper. Keeps the itk_click ids of landing URLs (with the time
   of the visit) in this site's own storage for 90 days, and hands them to the checkout:
     influtrack.clickIds()   -> ["0193…", …] newest last, for POST /api/v1/orders click_ids
     influtrack.attribute()  -> "id:unix,id:unix", for a Shopify cart/note attribute
   With data-shopify on the script tag it also writes the ids into the Shopify cart
   attribute "itk_click", which Shopify copies into the order's note_attributes.
   With data-woocommerce, a landing URL's itk_code (from a link that applies the
   influencer's code) is applied to the WooCommerce cart through the Store API, once. */
(function (w, d) {
  "use strict";
  var KEY = "itk_clicks", MAX = 20, TTL = 90 * 86400;
  var ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  var now = Math.floor(Date.now() / 1000);
  function parse(text) {
    var out = [];
    (text || "").split(",").forEach(function (part) {
      var p = part.split(":"), t = parseInt(p[1], 10);
      if (ID.test(p[0]) && t > now - TTL) out.push([p[0].toLowerCase(), t]);
    });
    return out;
  }
  function format(list) {
    return list.map(function (c) { return c[0] + ":" + c[1]; }).join(",");
  }
  function load() {
    var stored = "";
    try { stored = w.localStorage.getItem(KEY) || ""; } catch (e) { /* storage blocked */ }
    if (!stored) {
      var m = d.cookie.match(/(?:^|;\s*)itk_clicks=([^;]*)/);
      stored = m ? decodeURIComponent(m[1]) : "";
    }
    return parse(stored);
  }
  function save(list) {
    var text = format(list);
    try { w.localStorage.setItem(KEY, text); } catch (e) { /* storage blocked */ }
    d.cookie = KEY + "=" + encodeURIComponent(text) + ";path=/;max-age=" + TTL + ";samesite=lax" +
      (w.location.protocol === "https:" ? ";secure" : "");
  }
  var clicks = load();
  var seen = new URLSearchParams(w.location.search).getAll("itk_click");
  seen.forEach(function (id) {
    if (!ID.test(id)) return;
    id = id.toLowerCase();
    clicks = clicks.filter(function (c) { return c[0] !== id; });
    clicks.push([id, now]);
  });
  clicks = clicks.slice(-MAX);
  save(clicks);
  var api = {
    clickIds: function () { return clicks.map(function (c) { return c[0]; }); },
    clicks: function () { return clicks.map(function (c) { return { id: c[0], at: c[1] }; }); },
    attribute: function () { return format(clicks); }
  };
  w.influtrack = api;
  var me = d.currentScript;
  if (me && me.hasAttribute("data-shopify") && clicks.length && w.fetch) {
    w.fetch("/cart/update.js", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ attributes: { itk_click: api.attribute() } })
    }).catch(function () { /* the cart is not ready on every page */ });
  }
  var code = new URLSearchParams(w.location.search).get("itk_code");
  if (me && me.hasAttribute("data-woocommerce") && code && code.length <= 64 && w.fetch) {
    var applied = "";
    try { applied = w.sessionStorage.getItem("itk_code") || ""; } catch (e) { /* blocked */ }
    if (applied !== code) {
      var store = "/wp-json/wc/store/v1/cart";
      // The Store API wants the nonce its own answers carry for a write.
      w.fetch(store, { credentials: "same-origin" }).then(function (r) {
        return w.fetch(store + "/apply-coupon", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Nonce": r.headers.get("Nonce") || "" },
          body: JSON.stringify({ code: code })
        });
      }).then(function (r) {
        if (r.ok) { try { w.sessionStorage.setItem("itk_code", code); } catch (e) { /* blocked */ } }
      }).catch(function () { /* no cart here, or the code is not usable: checkout still asks */ });
    }
  }
})(window, document);
