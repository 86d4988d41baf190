#!/usr/bin/env bash
# Deploys tailerbot to Cloud Run, with no key file and no token: the service runs as its
# own service account, and the bot signs its Tailer JWT through IAM `signJwt` with that
# identity. Creates what the bot needs when it is missing (the APIs, the service account
# and its roles, a Cloud SQL for PostgreSQL instance and database, the Secret Manager
# secrets, the image), then deploys. Safe to run again: what exists is kept, a secret
# gets a new version only when its value changed, and the service is redeployed.
#
#   PROJECT=my-project SLACK_SIGNING_SECRET=... SLACK_BOT_TOKEN=xoxb-... \
#     CONFIG_FILE=tailerbot.toml deploy/cloudrun/deploy.sh
#
# SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN are needed on the first run only (later runs
# keep the secrets as they are unless the variables are set). Needs gcloud, logged in
# with rights to create these resources, and openssl.
set -euo pipefail

# What to create, and where. Override any of them from the environment.
PROJECT="${PROJECT:?set PROJECT to your Google Cloud project id}"
REGION="${REGION:-europe-west1}"
SERVICE="${SERVICE:-tailerbot}"
SERVICE_ACCOUNT_NAME="${SERVICE_ACCOUNT_NAME:-tailerbot}"
CONFIG_FILE="${CONFIG_FILE:-tailerbot.toml}"
SQL_INSTANCE="${SQL_INSTANCE:-tailerbot}"
SQL_TIER="${SQL_TIER:-db-g1-small}"
DB_NAME="${DB_NAME:-tailerbot}"
DB_USER="${DB_USER:-tailerbot}"
REPOSITORY="${REPOSITORY:-tailerbot}"
IMAGE="${IMAGE:-$REGION-docker.pkg.dev/$PROJECT/$REPOSITORY/tailerbot:latest}"
BUILD="${BUILD:-yes}"
MIN_INSTANCES="${MIN_INSTANCES:-1}"
MAX_INSTANCES="${MAX_INSTANCES:-2}"

# The names of the Secret Manager secrets.
SECRET_SIGNING="${SERVICE}-slack-signing-secret"
SECRET_BOT_TOKEN="${SERVICE}-slack-bot-token"
SECRET_DATABASE_URL="${SERVICE}-database-url"
SECRET_CONFIG="${SERVICE}-config"

SERVICE_ACCOUNT="$SERVICE_ACCOUNT_NAME@$PROJECT.iam.gserviceaccount.com"
CONNECTION_NAME="$PROJECT:$REGION:$SQL_INSTANCE"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

say() { printf '\n==> %s\n' "$*" >&2; }

# Stores stdin as the latest version of secret $1, creating the secret when missing;
# adds no version when the value is unchanged.
put_secret() {
  local name="$1" value
  value="$(cat)"
  if ! gcloud secrets describe "$name" --project "$PROJECT" >/dev/null 2>&1; then
    gcloud secrets create "$name" --project "$PROJECT" --replication-policy automatic
  elif [[ "$(gcloud secrets versions access latest --secret "$name" --project "$PROJECT" 2>/dev/null || true)" == "$value" ]]; then
    return 0
  fi
  printf '%s' "$value" | gcloud secrets versions add "$name" --project "$PROJECT" --data-file=-
}

secret_exists() {
  gcloud secrets describe "$1" --project "$PROJECT" >/dev/null 2>&1
}

if [[ ! -f "$CONFIG_FILE" ]]; then
  echo "CONFIG_FILE=$CONFIG_FILE: no such file (start from tailerbot.example.toml)" >&2
  exit 2
fi
if command -v tailerbot >/dev/null; then
  say "Checking $CONFIG_FILE"
  tailerbot check-config --config "$CONFIG_FILE" >/dev/null
fi

say "Enabling the APIs"
gcloud services enable --project "$PROJECT" \
  run.googleapis.com sqladmin.googleapis.com secretmanager.googleapis.com \
  iamcredentials.googleapis.com artifactregistry.googleapis.com cloudbuild.googleapis.com

say "Service account $SERVICE_ACCOUNT"
if ! gcloud iam service-accounts describe "$SERVICE_ACCOUNT" --project "$PROJECT" >/dev/null 2>&1; then
  gcloud iam service-accounts create "$SERVICE_ACCOUNT_NAME" --project "$PROJECT" \
    --display-name "tailerbot (Cloud Run service $SERVICE)"
fi
# Signing its own Tailer JWT with IAM signJwt: Token Creator on itself, nothing wider.
gcloud iam service-accounts add-iam-policy-binding "$SERVICE_ACCOUNT" --project "$PROJECT" \
  --member "serviceAccount:$SERVICE_ACCOUNT" --role roles/iam.serviceAccountTokenCreator \
  --condition None >/dev/null
# Connecting to Cloud SQL through the socket Cloud Run mounts.
gcloud projects add-iam-policy-binding "$PROJECT" \
  --member "serviceAccount:$SERVICE_ACCOUNT" --role roles/cloudsql.client \
  --condition None >/dev/null

say "Cloud SQL for PostgreSQL: $CONNECTION_NAME"
if ! gcloud sql instances describe "$SQL_INSTANCE" --project "$PROJECT" >/dev/null 2>&1; then
  # Several minutes. Each bot instance opens at most 8 connections: size the tier for
  # 8 x MAX_INSTANCES plus your other clients.
  gcloud sql instances create "$SQL_INSTANCE" --project "$PROJECT" --region "$REGION" \
    --database-version POSTGRES_16 --edition enterprise --tier "$SQL_TIER"
fi
if ! gcloud sql databases describe "$DB_NAME" --instance "$SQL_INSTANCE" --project "$PROJECT" >/dev/null 2>&1; then
  gcloud sql databases create "$DB_NAME" --instance "$SQL_INSTANCE" --project "$PROJECT"
fi
# The password lives only in the DATABASE_URL secret: made once, with the user.
if ! secret_exists "$SECRET_DATABASE_URL"; then
  password="$(openssl rand -hex 24)"
  if gcloud sql users list --instance "$SQL_INSTANCE" --project "$PROJECT" --format 'value(name)' | grep -qx "$DB_USER"; then
    gcloud sql users set-password "$DB_USER" --instance "$SQL_INSTANCE" --project "$PROJECT" --password "$password"
  else
    gcloud sql users create "$DB_USER" --instance "$SQL_INSTANCE" --project "$PROJECT" --password "$password"
  fi
  # The Unix socket that --add-cloudsql-instances mounts; no network, no proxy.
  printf 'postgres://%s:%s@localhost/%s?host=/cloudsql/%s' "$DB_USER" "$password" "$DB_NAME" "$CONNECTION_NAME" \
    | put_secret "$SECRET_DATABASE_URL"
fi

say "Secrets"
if [[ -n "${SLACK_SIGNING_SECRET:-}" ]]; then
  printf '%s' "$SLACK_SIGNING_SECRET" | put_secret "$SECRET_SIGNING"
elif ! secret_exists "$SECRET_SIGNING"; then
  echo "SLACK_SIGNING_SECRET: set it for the first run (Basic Information -> Signing Secret of the Slack app)" >&2
  exit 2
fi
if [[ -n "${SLACK_BOT_TOKEN:-}" ]]; then
  printf '%s' "$SLACK_BOT_TOKEN" | put_secret "$SECRET_BOT_TOKEN"
elif ! secret_exists "$SECRET_BOT_TOKEN"; then
  echo "SLACK_BOT_TOKEN: set it for the first run (the app's Bot User OAuth Token, xoxb-...)" >&2
  exit 2
fi
put_secret "$SECRET_CONFIG" <"$CONFIG_FILE"
for secret in "$SECRET_SIGNING" "$SECRET_BOT_TOKEN" "$SECRET_DATABASE_URL" "$SECRET_CONFIG"; do
  gcloud secrets add-iam-policy-binding "$secret" --project "$PROJECT" \
    --member "serviceAccount:$SERVICE_ACCOUNT" --role roles/secretmanager.secretAccessor \
    --condition None >/dev/null
done

if [[ "$BUILD" == "yes" ]]; then
  say "Image $IMAGE"
  if ! gcloud artifacts repositories describe "$REPOSITORY" --location "$REGION" --project "$PROJECT" >/dev/null 2>&1; then
    gcloud artifacts repositories create "$REPOSITORY" --location "$REGION" --project "$PROJECT" --repository-format docker
  fi
  gcloud builds submit "$ROOT" --project "$PROJECT" --region "$REGION" --tag "$IMAGE" --timeout 3600s
fi

say "Deploying $SERVICE"
# --allow-unauthenticated: Slack calls without a Google identity; every request is
# checked against the signing secret instead. --no-cpu-throttling and --min-instances:
# the watcher, the timers and the outbox work between requests. The configuration is a
# file: a secret mounted at the path the image reads, fetched afresh on each read.
gcloud run deploy "$SERVICE" --project "$PROJECT" --region "$REGION" \
  --image "$IMAGE" \
  --service-account "$SERVICE_ACCOUNT" \
  --allow-unauthenticated \
  --no-cpu-throttling \
  --min-instances "$MIN_INSTANCES" \
  --max-instances "$MAX_INSTANCES" \
  --add-cloudsql-instances "$CONNECTION_NAME" \
  --set-secrets "/etc/tailerbot/tailerbot.toml=$SECRET_CONFIG:latest,SLACK_SIGNING_SECRET=$SECRET_SIGNING:latest,SLACK_BOT_TOKEN=$SECRET_BOT_TOKEN:latest,DATABASE_URL=$SECRET_DATABASE_URL:latest" \
  --set-env-vars "TAILERBOT_CONFIG=/etc/tailerbot/tailerbot.toml,LOG_FORMAT=json"

url="$(gcloud run services describe "$SERVICE" --project "$PROJECT" --region "$REGION" --format 'value(status.url)')"
cat >&2 <<EOF

Deployed: $url
The bot's Google identity is $SERVICE_ACCOUNT: give that account access to Tailer.
Next: tailerbot manifest --url $url   (paste it into the Slack app's manifest)
EOF
