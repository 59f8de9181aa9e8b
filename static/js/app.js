/*
 * smsportal page helpers.
 *
 * The Content Security Policy forbids inline scripts and inline event
 * handlers, so page behaviour is declared with data attributes and wired up
 * here:
 *
 *   data-confirm="Cancel this campaign?"
 *       On a link, button or form: ask before the click or submit goes ahead.
 *       Works for plain links/forms and for htmx requests alike.
 *
 *   <div class="chart"><canvas data-chart='{"type": "line", "data": {...},
 *                                           "options": {...}}'></canvas></div>
 *       Rendered as a Chart.js chart, on page load and after every htmx swap.
 *       The .chart box gives the chart its height (see app.css).
 *
 *   <span data-number="1234.5" data-decimals="2">1,234.50</span>
 *       Shown in the reader's number format (Intl), after every swap too.
 *
 *   A "tz" cookie with the browser's time zone, so the server shows times
 *   in it.
 *
 * Loaded with `defer`, after htmx and Chart.js.
 */
(function () {
  "use strict";

  // -------------------------------------------------------------- time zone

  // The server shows times in the zone this cookie names (see
  // smsportal/timezones.py). Set on every page so a laptop that travels
  // follows; the next page load picks a change up.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // IANA names are letters, digits and "/_+-": safe in a cookie as they are.
    if (zone && /^[A-Za-z0-9/_+-]+$/.test(zone) && document.cookie.indexOf("tz=" + zone) === -1) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (error) {
    // No Intl time zone support: the server's default zone applies.
  }

  // ---------------------------------------------------------------- confirm

  // One user action can reach several of our listeners (the click on a submit
  // button, then the form's submit, then htmx's request for that form). They
  // all run in the same task, so once the user has said yes we stay quiet
  // until the next tick instead of asking the same question twice.
  var confirmedThisTick = false;

  function askOnce(question) {
    if (confirmedThisTick) {
      return true;
    }
    if (!window.confirm(question)) {
      return false;
    }
    confirmedThisTick = true;
    window.setTimeout(function () {
      confirmedThisTick = false;
    }, 0);
    return true;
  }

  function refuse(event) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }

  // Capture phase: we run before htmx's own listeners on the element, so a
  // "no" stops htmx from ever seeing the click or submit.
  document.addEventListener(
    "click",
    function (event) {
      if (!(event.target instanceof Element)) {
        return;
      }
      var el = event.target.closest("[data-confirm]");
      // A form asks on submit, not on every click inside it.
      if (!el || el.tagName === "FORM") {
        return;
      }
      if (!askOnce(el.getAttribute("data-confirm"))) {
        refuse(event);
      }
    },
    true
  );

  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) {
        return;
      }
      if (!askOnce(form.getAttribute("data-confirm"))) {
        refuse(event);
      }
    },
    true
  );

  // Requests htmx starts by itself (hx-trigger="change", "every 5s", ...)
  // never pass through the click or submit listeners above.
  document.addEventListener("htmx:confirm", function (event) {
    var el = event.detail && event.detail.elt;
    if (!el || !el.hasAttribute || !el.hasAttribute("data-confirm")) {
      return;
    }
    if (confirmedThisTick) {
      return;
    }
    event.preventDefault();
    if (askOnce(el.getAttribute("data-confirm"))) {
      event.detail.issueRequest(true);
    }
  });

  // ---------------------------------------------------------------- numbers

  // <span data-number="1234.5" data-decimals="2">1,234.50</span>: the server
  // writes a plain number, shown here in the reader's own format.
  function formatNumbers(root) {
    if (!root || !root.querySelectorAll || !window.Intl) {
      return;
    }
    var nodes = Array.prototype.slice.call(root.querySelectorAll("[data-number]"));
    if (root.matches && root.matches("[data-number]")) {
      nodes.push(root);
    }
    nodes.forEach(function (node) {
      var value = Number(node.getAttribute("data-number"));
      if (!isFinite(value)) {
        return;
      }
      var decimals = Number(node.getAttribute("data-decimals") || 0);
      node.textContent = value.toLocaleString(undefined, {
        minimumFractionDigits: decimals,
        maximumFractionDigits: decimals,
      });
    });
  }

  document.addEventListener("htmx:load", function (event) {
    formatNumbers(event.detail && event.detail.elt);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      formatNumbers(document.body);
    });
  } else {
    formatNumbers(document.body);
  }

  // ----------------------------------------------------------------- charts

  var reduceMotion =
    window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function configureChartDefaults() {
    var Chart = window.Chart;
    if (!Chart || configureChartDefaults.done) {
      return;
    }
    configureChartDefaults.done = true;
    var styles = window.getComputedStyle(document.body);
    Chart.defaults.font.family = styles.fontFamily;
    Chart.defaults.color = styles.getPropertyValue("--text-muted").trim() || "#55606e";
    Chart.defaults.borderColor = styles.getPropertyValue("--border").trim() || "#dfe3e8";
    if (reduceMotion) {
      Chart.defaults.animation = false;
    }
  }

  // The badge colours from app.css, so a "delivered" line can look like a
  // "delivered" badge. Datasets that name their own colours keep them.
  var PALETTE = ["#2454c9", "#1f9d4c", "#d92d20", "#d69a00", "#1597a5", "#7c4ddb", "#e0700f", "#8a94a3"];
  var PER_POINT_TYPES = ["pie", "doughnut", "polarArea"];

  function translucent(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function applyPalette(config) {
    var datasets = (config.data && config.data.datasets) || [];
    datasets.forEach(function (dataset, i) {
      if (dataset.backgroundColor || dataset.borderColor) {
        return;
      }
      var type = dataset.type || config.type;
      if (PER_POINT_TYPES.indexOf(type) !== -1) {
        dataset.backgroundColor = (dataset.data || []).map(function (_, j) {
          return PALETTE[j % PALETTE.length];
        });
        dataset.borderColor = "#fff";
        // The white line between slices; a whole ring of one slice would
        // show it as a notch where the ring starts and ends.
        var slices = (dataset.data || []).filter(function (value) {
          return value;
        }).length;
        if (slices < 2) {
          dataset.borderWidth = 0;
        }
        return;
      }
      var colour = PALETTE[i % PALETTE.length];
      dataset.borderColor = colour;
      dataset.backgroundColor = type === "line" ? translucent(colour, 0.12) : colour;
    });
  }

  function renderChart(canvas) {
    var Chart = window.Chart;
    if (!Chart || Chart.getChart(canvas)) {
      return;
    }
    var config;
    try {
      config = JSON.parse(canvas.getAttribute("data-chart"));
    } catch (error) {
      console.error("data-chart is not valid JSON", canvas, error);
      return;
    }
    // Inside a sized <div class="chart"> box the chart fills the box; a bare
    // canvas keeps Chart.js's own aspect ratio.
    var box = canvas.parentElement;
    if (box && box.classList.contains("chart")) {
      config.options = config.options || {};
      if (config.options.maintainAspectRatio === undefined) {
        config.options.maintainAspectRatio = false;
      }
    }
    applyPalette(config);
    new Chart(canvas, config);
  }

  function renderCharts(root) {
    if (!root || !root.querySelectorAll) {
      return;
    }
    configureChartDefaults();
    if (root.matches && root.matches("canvas[data-chart]")) {
      renderChart(root);
    }
    root.querySelectorAll("canvas[data-chart]").forEach(renderChart);
  }

  function destroyCharts(root) {
    var Chart = window.Chart;
    if (!Chart || !root || !root.querySelectorAll) {
      return;
    }
    var canvases = Array.prototype.slice.call(root.querySelectorAll("canvas[data-chart]"));
    if (root.matches && root.matches("canvas[data-chart]")) {
      canvases.push(root);
    }
    canvases.forEach(function (canvas) {
      var chart = Chart.getChart(canvas);
      if (chart) {
        chart.destroy();
      }
    });
  }

  // htmx fires htmx:load for the body once it starts and for every piece of
  // swapped-in content afterwards. The DOMContentLoaded call covers pages
  // where htmx failed to load; renderChart skips canvases already drawn.
  document.addEventListener("htmx:load", function (event) {
    renderCharts(event.detail && event.detail.elt);
  });
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    destroyCharts(event.detail && event.detail.elt);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      renderCharts(document.body);
    });
  } else {
    renderCharts(document.body);
  }
})();
