// With htmx on, every change saves at once: the Save buttons are only the no-JavaScript path.
document.documentElement.classList.add("htmx");

// After Undo the button is gone with the status it sat in: move focus to the new status, which says what happened.
document.addEventListener("htmx:afterSettle", function (event) {
  var config = event.detail.requestConfig;
  var status = document.getElementById("status");
  if (status && config && /\/undo\/$/.test(config.path)) status.focus();
});

// Fields that only make sense together (quiet hours' start and end, "until a date" and the date) wait for each
// other: a change that leaves the pair half filled in does not save; the change that completes it does.
// data-needed-with="other-id" means "needed once other-id is filled in", "other-id=value" "once it has value".
function halfFilled(group) {
  return Array.prototype.some.call(group.querySelectorAll("[data-needed-with]"), function (field) {
    var rule = field.getAttribute("data-needed-with").split("=");
    var other = document.getElementById(rule[0]);
    var needed = rule.length > 1 ? other.value === rule[1] : other.value !== "";
    return needed && field.value === "";
  });
}
document.addEventListener("htmx:confirm", function (event) {
  var trigger = event.detail.triggeringEvent;
  var group = trigger && trigger.type === "change" && trigger.target.closest && trigger.target.closest("[data-group]");
  if (group && halfFilled(group)) event.preventDefault();
});

// A link to a section (the summary at the top, or an address ending in #frequency) opens it.
function openLinkedSection() {
  var target = location.hash && document.getElementById(location.hash.slice(1));
  var details = target && target.querySelector(":scope > details");
  if (details) details.open = true;
}
window.addEventListener("hashchange", openLinkedSection);
openLinkedSection();
