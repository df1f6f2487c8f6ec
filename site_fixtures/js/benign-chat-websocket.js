// Benign: a chat client over a WebSocket. It authenticates, joins rooms, sends and receives messages.
(function () {
  var ws = new WebSocket("wss://chat.example.org/socket");
  var token = localStorage.getItem("chatToken");
  ws.onopen = function () {
    ws.send(JSON.stringify({ type: "auth", params: { token: token } }));
    ws.send(JSON.stringify({ type: "join", params: { room: "general" } }));
  };
  ws.onmessage = function (ev) {
    var msg = JSON.parse(ev.data);
    switch (msg.type) {
      case "message": render(msg.params.user, msg.params.text); break;
      case "typing": showTyping(msg.params.user); break;
      case "error": console.error(msg.params.reason); break;
    }
  };
  document.getElementById("send").addEventListener("click", function () {
    var input = document.getElementById("text");
    ws.send(JSON.stringify({ type: "message", params: { room: "general", text: input.value } }));
    input.value = "";
  });
  function render(user, text) { var li = document.createElement("li"); li.textContent = user + ": " + text; document.getElementById("log").appendChild(li); }
  function showTyping(user) { document.getElementById("typing").textContent = user + " is typing..."; }
})();
