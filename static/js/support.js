// Times in the console are shown in the agent's own time zone: tell the server which one this browser is in.
// (Zone names are letters, digits, "/", "_", "+" and "-": a cookie value as they are.)
(function () {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || document.cookie.indexOf("agent_tz=" + zone) !== -1) return;
  document.cookie = "agent_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" +
    (location.protocol === "https:" ? "; Secure" : "");
})();
