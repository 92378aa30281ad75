// Posts a problem or a recovery to the site's chat (an incoming webhook that
// takes {"text": ...}, as Mattermost's does). Zabbix runs this on the server.
var params = JSON.parse(value);
var request = new HttpRequest();
request.addHeader('Content-Type: application/json');
var body = JSON.stringify({ text: '**' + params.Subject + '**\n' + params.Message });
request.post(params.URL, body);
if (request.getStatus() < 200 || request.getStatus() >= 300) {
  throw 'chat webhook answered ' + request.getStatus();
}
return 'OK';
