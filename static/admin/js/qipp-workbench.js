// The workbench's keyboard shortcuts. A number toggles that theme, S cycles
// the stance of the theme toggled last, C confirms all suggestions, F flags,
// N skips, P goes back, Enter saves. Single-key shortcuts can be turned off
// (WCAG 2.1.4): the choice is kept in this browser. Without JavaScript the
// page is a plain form.
(function () {
  "use strict";
  var STORAGE = "qipp.workbench.shortcuts";

  function enabled() {
    try {
      return window.localStorage.getItem(STORAGE) !== "off";
    } catch (error) {
      return true;
    }
  }

  function remember(on) {
    try {
      window.localStorage.setItem(STORAGE, on ? "on" : "off");
    } catch (error) {
      // Private browsing: the choice lasts for this page.
    }
  }

  // Keys typed into a text box or a list are theirs; a ticked box or a button leaves them to us.
  function typing(target) {
    var field = target.closest("input, select, textarea, [contenteditable]");
    return field !== null && !(field.type === "checkbox" || field.type === "radio");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector(".workbench-codebook form");
    var toggle = document.getElementById("shortcuts-toggle");
    if (!form || !toggle) {
      return;
    }
    var lastTheme = null;
    toggle.parentElement.hidden = false;
    toggle.checked = enabled();
    document.body.classList.toggle("shortcuts-on", toggle.checked);
    toggle.addEventListener("change", function () {
      remember(toggle.checked);
      document.body.classList.toggle("shortcuts-on", toggle.checked);
    });

    function press(action) {
      var button = form.querySelector('button[value="' + action + '"]');
      if (button) {
        button.click();
      }
    }

    document.addEventListener("keydown", function (event) {
      if (!toggle.checked || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
        return;
      }
      var key = event.key.toLowerCase();
      var boxes = form.querySelectorAll('input[name="theme"]');
      if (/^[1-9]$/.test(key) && boxes[Number(key) - 1]) {
        lastTheme = boxes[Number(key) - 1];
        lastTheme.checked = !lastTheme.checked;
        lastTheme.focus();
      } else if (key === "s" && lastTheme) {
        var stance = document.getElementById("stance-" + lastTheme.value);
        stance.selectedIndex = (stance.selectedIndex + 1) % stance.options.length;
        lastTheme.checked = true;
      } else if (key === "c") {
        press("confirm");
      } else if (key === "f") {
        press("flag");
      } else if (key === "n") {
        press("skip");
      } else if (key === "p") {
        var previous = document.querySelector("a.workbench-previous");
        if (previous) {
          previous.click();
        }
      } else if (key === "enter" && !event.target.closest("button, a")) {
        press("save");
      } else {
        return;
      }
      event.preventDefault();
    });
  });
})();
