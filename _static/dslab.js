// dslab book: click a figure of a notebook's output to see it larger (Escape or a click closes it).
// Figures carry twice the pixels they are shown with, so the enlarged view is sharp.
(function () {
  "use strict";
  function zoomDialog() {
    let dialog = document.getElementById("dslab-zoom");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "dslab-zoom";
      dialog.className = "dslab-zoom";
      dialog.setAttribute("aria-label", "Enlarged figure");
      dialog.addEventListener("click", () => dialog.close());
      // Sphinx's search highlighter swallows Escape, so close the dialog ourselves.
      dialog.addEventListener("keydown", (event) => {
        if (event.key === "Escape") {
          event.preventDefault();
          event.stopPropagation();
          dialog.close();
        }
      });
      document.body.appendChild(dialog);
    }
    return dialog;
  }
  function enlarge(img) {
    const dialog = zoomDialog();
    const big = document.createElement("img");
    big.src = img.currentSrc || img.src;
    big.alt = img.alt || "";
    // Show the image at its full resolution, but never wider than the window.
    big.style.width = Math.min(img.naturalWidth, window.innerWidth * 0.96) + "px";
    dialog.replaceChildren(big);
    dialog.showModal();
  }
  function setup() {
    document.querySelectorAll(".cell_output img").forEach((img) => {
      img.title = img.title || "Click to enlarge";
      img.tabIndex = 0;
      img.setAttribute("role", "button");
      // Sphinx already links a sized image to its file (the fallback without JavaScript);
      // with JavaScript the figure opens over the page instead of replacing it.
      img.addEventListener("click", (event) => {
        event.preventDefault();
        enlarge(img);
      });
      img.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          enlarge(img);
        }
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
