// After Undo the button is gone with the status it sat in: move focus to the new status, which says what happened.
document.addEventListener("htmx:afterSettle", function (event) {
  var config = event.detail.requestConfig;
  var status = document.getElementById("status");
  if (status && config && /\/undo\/$/.test(config.path)) status.focus();
});
