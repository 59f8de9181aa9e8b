/*
 * The composer's helpers (loaded by templates/campaigns/edit.html).
 *
 *   <button type="button" data-append-to="#id_text"
 *           data-append-text="Reply STOP to opt out">
 *       Appends the text to the field after a space, trailing spaces
 *       dropped (as campaigns.compliance.with_opt_out_instruction prices
 *       it), then fires "input" so the preview follows.
 */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    if (!(event.target instanceof Element)) {
      return;
    }
    var button = event.target.closest("[data-append-to]");
    if (!button) {
      return;
    }
    var field = document.querySelector(button.getAttribute("data-append-to"));
    if (!field) {
      return;
    }
    event.preventDefault();
    var text = button.getAttribute("data-append-text") || "";
    var kept = field.value.replace(/\s+$/, "");
    field.value = kept ? kept + " " + text : text;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.focus();
  });
})();
