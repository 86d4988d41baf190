// A Bolt for JavaScript app doing for `/tailer status JOB RUN` the work tailerbot does:
// Bolt verifies the request's signature (SLACK_SIGNING_SECRET), the handler acknowledges
// at once, then asks Tailer for the run (`check_run_status`), writes a short answer and
// posts it to the command's `response_url`. The ingress benchmark (bench/ingress.sh)
// loads it with the same signed commands as tailerbot and checks, at the Slack stand-in,
// that every acknowledged command got exactly one reply.
//
//   SLACK_SIGNING_SECRET=... TAILER_API_URL=http://127.0.0.1:8081 TAILER_API_TOKEN=... \
//     PORT=3000 node work.js   →   POST http://127.0.0.1:3000/slack/commands
//
// Tailer is called as tailerbot calls it: POST TAILER_API_URL/v1/dag/status, header
// `Authorization: Bearer TAILER_API_TOKEN`, a JSON body with `action: check_run_status`,
// the job's account, environment, configuration type and id, `job_id` and `run_id`. One
// call per command: unlike tailerbot, nothing is shared between identical reads.
//
// Both destinations go through keep-alive agents of at most HTTP_POOL (64) connections
// each; a call has TAILER_TIMEOUT_MS (10 s, tailerbot's `timeout_secs`) to finish. A call
// that fails is counted and logged to stderr (the first 20 of each kind), never thrown;
// a failed Tailer call still gets a reply, saying so, as tailerbot's does. The counts are
// printed to stderr on SIGTERM:
//   work-js: commands=... tailer_calls=... tailer_errors=... replies=... reply_errors=...
//
// Bolt asks Slack who its token belongs to (auth.test) once, at start: offline, SLACK_API_URL
// points it at the Slack stand-in (`tailerbot sim --slack-standin`), as in app.js.
const http = require('node:http');
const https = require('node:https');
const { App, LogLevel } = require('@slack/bolt');

const signingSecret = process.env.SLACK_SIGNING_SECRET;
const tailerUrl = (process.env.TAILER_API_URL || '').replace(/\/+$/, '');
const tailerToken = process.env.TAILER_API_TOKEN;
if (!signingSecret || !tailerUrl || !tailerToken) {
  console.error('error: SLACK_SIGNING_SECRET, TAILER_API_URL and TAILER_API_TOKEN are required');
  process.exit(2);
}
const port = Number(process.env.PORT || 3000);
const pool = Number(process.env.HTTP_POOL || 64);
const timeoutMs = Number(process.env.TAILER_TIMEOUT_MS || 10000);
// The largest answer read from Tailer (tailerbot's `max_response_bytes`).
const maxResponseBytes = 8 * 1024 * 1024;

// The jobs of tailerbot.example.toml that the benchmark asks about, as tailerbot knows
// them (`job_id` of a table-to-table operation: `gbq-to-gbq|<configuration_id>`).
const JOBS = {
  'iowa-prepare': {
    account: '000099',
    environment: 'DEV',
    configuration_type: 'table-to-table',
    configuration_id: '000099_iowa_liquor_prepare_pda_DEV',
    job_id: 'gbq-to-gbq|000099_iowa_liquor_prepare_pda_DEV',
  },
  'sales-daily': {
    account: '000099',
    environment: 'PROD',
    configuration_type: 'table-to-table',
    configuration_id: '000099_sales_daily_PROD',
    job_id: 'gbq-to-gbq|000099_sales_daily_PROD',
  },
};

const agentOptions = { keepAlive: true, maxSockets: pool, maxFreeSockets: pool };
const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };

const counts = { commands: 0, tailer_calls: 0, tailer_errors: 0, replies: 0, reply_errors: 0 };
const logged = {};
function failed(kind, message) {
  counts[kind] += 1;
  logged[kind] = (logged[kind] || 0) + 1;
  if (logged[kind] <= 20) {
    console.error(`work-js: ${kind.replace('_errors', '')} call failed: ${message}`);
    if (logged[kind] === 20) console.error(`work-js: further ${kind} are only counted`);
  }
}

// POSTs `payload` as JSON to `url`; resolves to { status, body } (the body as a string,
// at most `limit` bytes), rejects on a transport error, a timeout or a larger body.
function postJson(url, payload, headers, limit) {
  return new Promise((resolve, reject) => {
    let target;
    try {
      target = new URL(url);
    } catch (e) {
      reject(new Error(`not a URL: ${url}`));
      return;
    }
    const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : null;
    if (!client) {
      reject(new Error(`not an http(s) URL: ${url}`));
      return;
    }
    const body = Buffer.from(JSON.stringify(payload));
    const request = client.request(
      target,
      {
        method: 'POST',
        agent: agents[target.protocol],
        headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (response) => {
        const chunks = [];
        let size = 0;
        response.on('data', (chunk) => {
          size += chunk.length;
          if (size > limit) {
            request.destroy(new Error(`an answer larger than ${limit} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

// `check_run_status` of `run` of `job`: { item } (null when Tailer has none), or throws.
async function checkRunStatus(job, run) {
  counts.tailer_calls += 1;
  const { status, body } = await postJson(
    `${tailerUrl}/v1/dag/status`,
    { action: 'check_run_status', ...job, run_id: run },
    { authorization: `Bearer ${tailerToken}` },
    maxResponseBytes,
  );
  // An unknown run is a 404 or an empty `results` (the docs allow both).
  if (status === 404) return { item: null };
  if (status < 200 || status >= 300) throw new Error(`Tailer answered ${status}: ${body.slice(0, 200)}`);
  let answer;
  try {
    answer = JSON.parse(body);
  } catch (e) {
    throw new Error(`Tailer's answer is not JSON: ${body.slice(0, 200)}`);
  }
  if (!answer || !Array.isArray(answer.results)) throw new Error('Tailer\'s answer has no `results` list');
  return { item: answer.results.find((item) => item && item.run_id === run) || null };
}

// The answer to `status NAME RUN`, as one line of text.
async function statusText(name, job, run) {
  let found;
  try {
    found = await checkRunStatus(job, run);
  } catch (e) {
    failed('tailer_errors', e.message);
    return `:warning: Tailer did not answer for run \`${run}\` of ${name}: ${e.message}`;
  }
  const { item } = found;
  if (!item) {
    return `Tailer has no status for run \`${run}\` of ${name} yet: a run that was just launched can take a moment to show.`;
  }
  const parts = [`Run \`${run}\` of ${name} (${job.environment}): *${item.status}*`];
  if (item.start_execution_date) parts.push(`started ${item.start_execution_date}`);
  if (item.duration) parts.push(`took ${item.duration}`);
  if (item.last_update_date) parts.push(`last update ${item.last_update_date}`);
  return parts.join(', ');
}

async function reply(responseUrl, text) {
  try {
    const { status, body } = await postJson(responseUrl, { response_type: 'ephemeral', text }, {}, 64 * 1024);
    if (status < 200 || status >= 300) {
      failed('reply_errors', `response_url answered ${status}: ${body.slice(0, 200)}`);
      return;
    }
    counts.replies += 1;
  } catch (e) {
    failed('reply_errors', e.message);
  }
}

const app = new App({
  signingSecret,
  // A single-workspace app with its bot token.
  token: process.env.SLACK_BOT_TOKEN || 'xoxb-bench',
  clientOptions: process.env.SLACK_API_URL ? { slackApiUrl: process.env.SLACK_API_URL.replace(/\/?$/, '/') } : {},
  endpoints: '/slack/commands',
  logLevel: LogLevel.WARN,
});

app.command('/tailer', async ({ command, ack }) => {
  const words = (command.text || '').trim().split(/\s+/);
  const job = words.length === 3 && words[0] === 'status' ? JOBS[words[1]] : undefined;
  if (!job) {
    await ack({ response_type: 'ephemeral', text: 'This app answers `/tailer status <job> <run>` only, for a job it knows.' });
    return;
  }
  await ack();
  counts.commands += 1;
  const text = await statusText(words[1], job, words[2]);
  await reply(command.response_url, text);
});

(async () => {
  await app.start(port);
  console.log(`bolt-js (work) listening on ${port}`);
})();

process.on('SIGTERM', () => {
  console.error(`work-js: ${Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  process.exit(0);
});
