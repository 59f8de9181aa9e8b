/*
 * The segment builder (templates/contacts/segment_edit.html).
 *
 *   <form class="builder" data-builder-url="/lists/segments/preview/">
 *     <select data-builder-refresh>        a condition's field or test:
 *                                           the conditions are drawn again
 *     <button name="builder" value="add">  add or remove a condition
 *
 * The conditions come back from the server (the tests of the chosen field,
 * the inputs its value needs) with the live count; the old rows are
 * disabled meanwhile. Listeners sit on the document, so rows drawn a moment
 * ago work at once. Without scripts the buttons submit the form and the page
 * comes back with the rows changed.
 */
(function () {
  "use strict";

  function redraw(form, action) {
    var conditions = form.querySelector("#conditions");
    if (!window.htmx || !conditions) {
      return false;
    }
    // A count asked for before this change would answer for the old rows:
    // drop it, the redraw brings the count along.
    window.htmx.trigger(form, "htmx:abort");
    // Sent from the conditions (their own hx-sync), with the form's values.
    var request = window.htmx.ajax("POST", form.getAttribute("data-builder-url"), {
      source: conditions,
      target: "#conditions",
      swap: "outerHTML",
      values: { builder: action },
    });
    // The rows' values went with the request: until the new rows come,
    // nothing typed into the old ones could be kept, so they take nothing.
    conditions.disabled = true;
    request.catch(function () {
      conditions.disabled = false;
    });
    return true;
  }

  // Capture phase: the form's own listener (which only counts) never sees
  // a change that redraws the rows, and the count comes with the redraw.
  document.addEventListener(
    "change",
    function (event) {
      var select = event.target instanceof Element && event.target.closest("[data-builder-refresh]");
      var form = select && select.closest("form[data-builder-url]");
      if (form && redraw(form, "refresh")) {
        event.stopPropagation();
      }
    },
    true
  );

  // A count asked for while the rows are being drawn again would go without
  // them (disabled inputs are not sent): the redraw brings the count.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail && event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-builder-url")) {
      return;
    }
    var conditions = form.querySelector("#conditions");
    if (conditions && conditions.disabled) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var button =
      event.target instanceof Element && event.target.closest("button[name=builder]");
    var form = button && button.closest("form[data-builder-url]");
    if (form && redraw(form, button.value)) {
      event.preventDefault();
    }
  });
})();
