// Show/hide for password fields: a button beside each, added only when this script runs,
// so the forms work the same without it. Its words come from the body's data attributes.
"use strict";
(function () {
  var words = document.body.dataset;
  document.querySelectorAll("input[type=password]").forEach(function (input) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "reveal";
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-label", words.showPassword);
    button.textContent = words.show;
    button.addEventListener("click", function () {
      var hidden = input.type === "password";
      input.type = hidden ? "text" : "password";
      button.textContent = hidden ? words.hide : words.show;
      button.setAttribute("aria-pressed", hidden ? "true" : "false");
    });
    var wrap = document.createElement("div");
    wrap.className = "with-reveal";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    wrap.appendChild(button);
  });
})();
