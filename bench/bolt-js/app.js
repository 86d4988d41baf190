// The smallest Bolt for JavaScript app that answers /tailer: Bolt verifies the request's
// signature (SLACK_SIGNING_SECRET) and the handler only acknowledges. The ingress
// benchmark (bench/ingress.sh) loads it with the same signed commands as tailerbot.
//
//   SLACK_SIGNING_SECRET=... PORT=3000 node app.js   →   POST http://127.0.0.1:3000/slack/commands
//
// Bolt asks Slack who its token belongs to (auth.test) once, at start: offline, SLACK_API_URL
// points it at the Slack stand-in (`tailerbot sim --slack-standin`). Token verification stays
// on: with `tokenVerificationEnabled: false`, Bolt 5.1 calls auth.test again on every request.
const { App, LogLevel } = require('@slack/bolt');

const signingSecret = process.env.SLACK_SIGNING_SECRET;
if (!signingSecret) {
  console.error('error: SLACK_SIGNING_SECRET is required');
  process.exit(2);
}
const port = Number(process.env.PORT || 3000);

const app = new App({
  signingSecret,
  // A single-workspace app with its bot token.
  token: process.env.SLACK_BOT_TOKEN || 'xoxb-bench',
  clientOptions: process.env.SLACK_API_URL ? { slackApiUrl: process.env.SLACK_API_URL.replace(/\/?$/, '/') } : {},
  endpoints: '/slack/commands',
  logLevel: LogLevel.WARN,
});

app.command('/tailer', async ({ ack }) => {
  await ack();
});

(async () => {
  await app.start(port);
  console.log(`bolt-js listening on ${port}`);
})();

process.on('SIGTERM', () => process.exit(0));
