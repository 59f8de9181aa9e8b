/*
 * The provider account form: a credential field that belongs to some choices
 * of an option (Infobip's authentication type) is shown only while one of
 * them is chosen. The form marks such a field:
 *
 *   <input name="cred_username" data-only-when="opt_auth_type"
 *          data-only-when-values="basic">
 *
 * A hidden field is also disabled, so what was typed into it is not sent.
 * Without this script every field shows, each saying which choice it is for.
 *
 * Loaded with `defer` by templates/providers/account_edit.html.
 */
(function () {
  "use strict";

  function update(form) {
    var fields = form.querySelectorAll("[data-only-when]");
    Array.prototype.forEach.call(fields, function (input) {
      var option = form.elements.namedItem(input.getAttribute("data-only-when"));
      if (!option) {
        return;
      }
      var values = input.getAttribute("data-only-when-values").split(" ");
      var shown = values.indexOf(option.value) !== -1;
      var box = input.closest(".field") || input;
      box.hidden = !shown;
      input.disabled = !shown;
    });
  }

  function updateAll() {
    var forms = document.querySelectorAll("form");
    Array.prototype.forEach.call(forms, function (form) {
      if (form.querySelector("[data-only-when]")) {
        update(form);
      }
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.form) {
      update(target.form);
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", updateAll);
  } else {
    updateAll();
  }
})();
