// The sorting page: take a view's text from the message by selecting it.
// Each view's text box gets a button that copies the text selected in the
// message (or an attachment's text) into it. Without JavaScript, people type
// or paste the text instead.
(function () {
  "use strict";

  function selectedMessageText() {
    var selection = window.getSelection();
    if (!selection || selection.isCollapsed) {
      return "";
    }
    var node = selection.anchorNode;
    var element = node && (node.nodeType === 1 ? node : node.parentElement);
    if (!element || !element.closest(".message-text")) {
      return "";
    }
    return selection.toString().trim();
  }

  function addButton(textarea) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "use-selection";
    button.textContent = "Use the text selected in the message";
    button.addEventListener("mousedown", function (event) {
      // Keep the selection in the message while the button is pressed.
      event.preventDefault();
    });
    button.addEventListener("click", function () {
      var text = selectedMessageText();
      if (!text) {
        button.nextElementSibling.textContent = "Select some text in the message first.";
        return;
      }
      textarea.value = textarea.value ? textarea.value + "\n\n" + text : text;
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
      button.nextElementSibling.textContent = "Text added to this view.";
    });
    var status = document.createElement("span");
    status.className = "help";
    status.setAttribute("role", "status");
    textarea.insertAdjacentElement("afterend", button);
    button.insertAdjacentElement("afterend", status);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-selection-target]").forEach(addButton);
  });
})();
