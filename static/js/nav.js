/*
 * The phone's menu (templates/base.html). On a narrow screen the sidebar
 * is a bar with the brand and a menu button; the button shows and hides the
 * links (and who is signed in). Escape closes the menu and gives the focus
 * back to the button. On a wide screen the button is hidden and the links
 * always show (static/css/app.css).
 */
(function () {
  "use strict";

  function toggle(button, open) {
    var sidebar = button.closest(".sidebar");
    if (!sidebar) {
      return;
    }
    sidebar.classList.toggle("is-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest(".nav-toggle");
    if (button) {
      toggle(button, button.getAttribute("aria-expanded") !== "true");
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    var button = document.querySelector(".nav-toggle[aria-expanded=true]");
    if (button) {
      toggle(button, false);
      button.focus();
    }
  });
})();
