// medtwin dashboard: the only hand-written script. Pages work without it;
// it adds keyboard shortcuts. Ctrl+Enter (Cmd+Enter) in a textarea marked
// data-ctrl-enter="submit" submits its form.
document.addEventListener("keydown", function (e) {
  var t = e.target;
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && t && t.dataset && t.dataset.ctrlEnter === "submit" && t.form) {
    e.preventDefault();
    t.form.requestSubmit();
  }
});
