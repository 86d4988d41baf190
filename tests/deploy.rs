//! The deployment recipes of `deploy/`: every Kubernetes manifest parses and fits the
//! others (the names, labels and ports that tie them together), the ConfigMap's
//! configuration passes the bot's own validation, every environment variable that a
//! manifest or the Cloud Run script sets is one `serve --help` lists, and the README's
//! deploy steps are these files and no others (and its configuration examples, like the
//! ConfigMap's, are ones the bot accepts).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::Value;
use tailerbot::config::Config;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the project; a test whose file is missing fails saying which.
fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{relative} cannot be read ({e}): this test checks it"))
}

/// Every document of every manifest under `deploy/kubernetes/`, with its file name.
fn manifests() -> Vec<(String, Value)> {
    let dir = root().join("deploy/kubernetes");
    assert!(dir.is_dir(), "deploy/kubernetes/ is absent: this test checks the manifests kept there");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_norway::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"));
            if !value.is_null() {
                docs.push((name.clone(), value));
            }
        }
    }
    assert!(!docs.is_empty(), "deploy/kubernetes/ holds no manifest");
    docs
}

/// The one manifest of `kind`.
fn one<'a>(docs: &'a [(String, Value)], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|(_, d)| d["kind"] == kind).map(|(_, d)| d).collect();
    assert_eq!(found.len(), 1, "deploy/kubernetes/ should hold one {kind}, it holds {}", found.len());
    found[0]
}

fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().expect("metadata.name")
}

/// `labels` holds every pair of `selector` (and `selector` is not empty).
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("a selector is a map");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The Deployment's only container.
fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "the bot's pod has one container");
    &containers[0]
}

/// The container port a probe or a Service's `targetPort` names (by name or number).
fn container_port(container: &Value, port: &Value) -> Option<u64> {
    container["ports"].as_array()?.iter().find(|p| p["name"] == *port || p["containerPort"] == *port)?["containerPort"].as_u64()
}

/// The variables `tailerbot serve --help` lists under "Environment:", the first column of
/// each of its lines (`RUST_LOG, LOG_FORMAT` gives both); a description's continuation
/// lines, indented further, name none.
fn variables_serve_knows() -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tailerbot")).args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success(), "serve --help: {}", String::from_utf8_lossy(&out.stderr));
    let help = String::from_utf8(out.stdout).unwrap();
    let section = help.split_once("Environment:\n").expect("serve --help has an Environment section").1;
    let known: BTreeSet<String> = section
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.trim_start().split("  ").next())
        .flat_map(|names| names.split(", ").map(|n| n.trim().to_owned()).collect::<Vec<_>>())
        .collect();
    let malformed: Vec<&String> =
        known.iter().filter(|n| !n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')).collect();
    assert!(malformed.is_empty(), "read from serve --help as variable names: {malformed:?}");
    assert!(known.contains("SLACK_BOT_TOKEN") && known.contains("DATABASE_URL"), "read from serve --help: {known:?}");
    known
}

/// The values of each `FLAG "..."` or `FLAG ...` in a shell script (the flag's argument,
/// quotes removed).
fn flag_values<'a>(script: &'a str, flag: &str) -> Vec<&'a str> {
    let mut values = Vec::new();
    let mut rest = script;
    while let Some(at) = rest.find(flag) {
        let after = &rest[at + flag.len()..];
        rest = after;
        let Some(after) = after.strip_prefix(' ').or_else(|| after.strip_prefix('=')) else { continue };
        let value = match after.strip_prefix('"') {
            Some(quoted) => &quoted[..quoted.find('"').expect("a closing quote")],
            None => after.split_whitespace().next().unwrap_or_default(),
        };
        values.push(value);
    }
    values
}

#[test]
fn every_kubernetes_manifest_is_a_kind_the_recipe_knows_with_its_api_version() {
    let known = BTreeMap::from([
        ("Deployment", "apps/v1"),
        ("Service", "v1"),
        ("Ingress", "networking.k8s.io/v1"),
        ("PodDisruptionBudget", "policy/v1"),
        ("ServiceAccount", "v1"),
        ("ConfigMap", "v1"),
    ]);
    let docs = manifests();
    for (file, doc) in &docs {
        let kind = doc["kind"].as_str().unwrap_or_else(|| panic!("{file}: no kind"));
        let version = known.get(kind).unwrap_or_else(|| panic!("{file}: {kind} is not a kind this recipe knows"));
        assert_eq!(doc["apiVersion"], *version, "{file}: {kind}");
        assert!(!name(doc).is_empty(), "{file}: {kind} without a name");
        assert!(doc["metadata"]["namespace"].is_null(), "{file}: the namespace is chosen at `kubectl apply --namespace`");
    }
    for kind in known.keys() {
        one(&docs, kind);
    }
}

#[test]
fn the_deployment_runs_as_the_service_account_that_workload_identity_maps_to_google() {
    let docs = manifests();
    let (deployment, account) = (one(&docs, "Deployment"), one(&docs, "ServiceAccount"));
    assert_eq!(deployment["spec"]["template"]["spec"]["serviceAccountName"].as_str(), Some(name(account)));
    let google = account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].as_str().expect("the Workload Identity annotation");
    assert!(google.ends_with(".iam.gserviceaccount.com") && google.contains('@'), "{google}");
}

#[test]
fn the_deployment_mounts_the_config_map_it_defines_as_the_directory_the_bot_reads() {
    let docs = manifests();
    let (deployment, config_map) = (one(&docs, "Deployment"), one(&docs, "ConfigMap"));
    let pod = &deployment["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["configMap"]["name"].as_str() == Some(name(config_map)))
        .expect("a volume of the ConfigMap the folder defines");
    let mounts: Vec<&Value> = container(deployment)["volumeMounts"].as_array().expect("volumeMounts").iter().collect();
    let mount = mounts.iter().find(|m| m["name"] == volume["name"]).expect("the ConfigMap's volume is mounted");
    assert_eq!(mount["mountPath"], "/etc/tailerbot", "the directory the image reads tailerbot.toml from");
    assert!(mount["subPath"].is_null(), "a subPath mount never sees an update of the ConfigMap");
    assert!(config_map["data"]["tailerbot.toml"].is_string(), "the ConfigMap holds tailerbot.toml");
    let env = container(deployment)["env"].as_array().expect("env");
    if let Some(config) = env.iter().find(|e| e["name"] == "TAILERBOT_CONFIG") {
        assert_eq!(config["value"], "/etc/tailerbot/tailerbot.toml");
    }
}

#[test]
fn the_deployment_runs_non_root_with_probes_resources_and_postgresql_for_its_replicas() {
    let docs = manifests();
    let deployment = one(&docs, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = container(deployment);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], false);
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(container_port(container, &get["port"]), Some(8080), "{probe} asks the bot's PORT");
    }
    assert!(container["resources"]["requests"]["memory"].is_string() && container["resources"]["limits"]["memory"].is_string());
    let replicas = deployment["spec"]["replicas"].as_u64().unwrap_or(1);
    let database = container["env"].as_array().unwrap().iter().find(|e| e["name"] == "DATABASE_URL");
    if replicas > 1 {
        let database = database.expect("several replicas share one database: DATABASE_URL is set");
        assert!(database["valueFrom"]["secretKeyRef"]["name"].is_string(), "DATABASE_URL (PostgreSQL) comes from the Secret");
    }
    assert!(selects(&deployment["spec"]["selector"]["matchLabels"], &pod_labels(deployment)), "the Deployment selects its own pods");
}

fn pod_labels(deployment: &Value) -> Value {
    deployment["spec"]["template"]["metadata"]["labels"].clone()
}

#[test]
fn the_service_and_the_disruption_budget_select_the_deployments_pods() {
    let docs = manifests();
    let (deployment, service, budget) = (one(&docs, "Deployment"), one(&docs, "Service"), one(&docs, "PodDisruptionBudget"));
    let labels = pod_labels(deployment);
    assert!(selects(&service["spec"]["selector"], &labels), "the Service selects the bot's pods");
    assert!(selects(&budget["spec"]["selector"]["matchLabels"], &labels), "the PodDisruptionBudget selects the bot's pods");
    for port in service["spec"]["ports"].as_array().expect("ports") {
        assert!(container_port(container(deployment), &port["targetPort"]).is_some(), "{port} is a port of the container");
    }
}

#[test]
fn the_ingress_sends_slack_to_the_services_http_port() {
    let docs = manifests();
    let (deployment, service, ingress) = (one(&docs, "Deployment"), one(&docs, "Service"), one(&docs, "Ingress"));
    let mut backends = 0;
    for rule in ingress["spec"]["rules"].as_array().expect("rules") {
        for path in rule["http"]["paths"].as_array().expect("paths") {
            let backend = &path["backend"]["service"];
            assert_eq!(backend["name"].as_str(), Some(name(service)));
            let port = service["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| (p["name"] == backend["port"]["name"] && p["name"].is_string()) || p["port"] == backend["port"]["number"])
                .unwrap_or_else(|| panic!("the Ingress names a port the Service does not have: {}", backend["port"]));
            assert_eq!(container_port(container(deployment), &port["targetPort"]), Some(8080), "Slack reaches the bot's PORT");
            assert!("/slack/commands".starts_with(path["path"].as_str().unwrap()), "{} leads to the Slack endpoints", path["path"]);
            backends += 1;
        }
    }
    assert!(backends > 0, "the Ingress routes somewhere");
}

#[test]
fn the_config_map_holds_a_configuration_the_bot_accepts_without_warnings() {
    let docs = manifests();
    let text = one(&docs, "ConfigMap")["data"]["tailerbot.toml"].as_str().expect("tailerbot.toml").to_owned();
    let config = Config::parse(Path::new("deploy/kubernetes/configmap.yaml (tailerbot.toml)"), &text)
        .unwrap_or_else(|e| panic!("the ConfigMap's configuration is refused:\n{e}"));
    assert!(config.warnings.is_empty(), "{:#?}", config.warnings);
    assert!(!config.jobs.is_empty() && !config.rules.is_empty());
}

#[test]
fn a_kubernetes_manifest_sets_only_variables_the_bot_knows() {
    let known = variables_serve_knows();
    let docs = manifests();
    let mut set = 0;
    for (file, doc) in &docs {
        let Some(containers) = doc["spec"]["template"]["spec"]["containers"].as_array() else { continue };
        for container in containers {
            assert!(container["envFrom"].is_null(), "{file}: envFrom sets variables this test cannot see; name each in env");
            for variable in container["env"].as_array().into_iter().flatten() {
                let variable = variable["name"].as_str().expect("env name");
                assert!(known.contains(variable), "{file}: {variable} is not a variable `tailerbot serve --help` lists: {known:?}");
                assert_ne!(variable, "TAILER_API_TOKEN", "{file}: a static token expires within the hour");
                set += 1;
            }
        }
    }
    assert!(set > 0, "the manifests set the bot's secrets");
}

/// The `gcloud run deploy` command of the Cloud Run script, from its first line to the
/// last continued one.
fn cloud_run_deploy(script: &str) -> String {
    let start = script.find("gcloud run deploy").expect("deploy/cloudrun/deploy.sh runs gcloud run deploy");
    let mut command = String::new();
    for line in script[start..].lines() {
        command.push_str(line.trim_end_matches('\\'));
        command.push(' ');
        if !line.ends_with('\\') {
            break;
        }
    }
    command
}

#[test]
fn the_cloud_run_script_sets_only_variables_the_bot_knows() {
    let known = variables_serve_knows();
    let script = read("deploy/cloudrun/deploy.sh");
    let deploy = cloud_run_deploy(&script);
    let mut set = BTreeSet::new();
    for flag in ["--set-secrets", "--update-secrets", "--set-env-vars", "--update-env-vars"] {
        for value in flag_values(&deploy, flag) {
            for pair in value.split(',') {
                let (variable, _) = pair.split_once('=').unwrap_or_else(|| panic!("{flag} {pair}: not NAME=VALUE"));
                if !variable.starts_with('/') {
                    set.insert(variable.to_owned());
                }
            }
        }
    }
    assert!(!deploy.contains("--env-vars-file"), "--env-vars-file sets variables this test cannot see");
    for variable in &set {
        assert!(
            known.contains(variable),
            "deploy/cloudrun/deploy.sh sets {variable}, which `tailerbot serve --help` does not list: {known:?}"
        );
    }
    for required in ["SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "DATABASE_URL"] {
        assert!(set.contains(required), "the service gets {required}: {set:?}");
    }
    for keyed in ["TAILER_API_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS"] {
        assert!(!set.contains(keyed), "no key and no token on Cloud Run: the service's own identity signs");
    }
    for flag in ["--service-account", "--allow-unauthenticated", "--no-cpu-throttling", "--min-instances", "--add-cloudsql-instances"] {
        assert!(deploy.contains(flag), "gcloud run deploy {flag}");
    }
    for role in ["roles/iam.serviceAccountTokenCreator", "roles/cloudsql.client"] {
        assert!(script.contains(role), "the service account gets {role}");
    }
}

#[test]
fn the_cloud_run_database_url_reaches_cloud_sql_through_its_socket() {
    let script = read("deploy/cloudrun/deploy.sh");
    let line = script.lines().find(|l| l.contains("postgres://")).expect("the script writes DATABASE_URL");
    let format = line.split('\'').nth(1).expect("printf 'FORMAT' with the URL");
    let mut url = format.to_owned();
    for value in ["tailerbot", "s3cret", "tailerbot", "my-project:europe-west1:tailerbot"] {
        url = url.replacen("%s", value, 1);
    }
    assert!(!url.contains('%'), "{url}: every placeholder filled");
    let options = sqlx::postgres::PgConnectOptions::from_str(&url).unwrap_or_else(|e| panic!("{url} is not a URL the bot can use: {e}"));
    assert_eq!(options.get_socket().map(|p| p.as_path()), Some(Path::new("/cloudsql/my-project:europe-west1:tailerbot")));
    assert_eq!(options.get_database(), Some("tailerbot"));
    assert_eq!(options.get_username(), "tailerbot");
}

#[test]
fn the_readme_deploys_with_the_files_of_deploy_and_no_copy_of_them() {
    let readme = read("README.md");
    assert!(readme.contains("deploy/cloudrun/deploy.sh"), "the README's Cloud Run step is the script");
    assert!(readme.contains("kubectl apply -f deploy/kubernetes/"), "the README's Kubernetes step applies the folder");
    assert!(!readme.contains("gcloud run deploy"), "the README's Cloud Run command is deploy/cloudrun/deploy.sh, not a copy that drifts");
    assert!(!readme.contains("kind: Deployment"), "the README's Kubernetes manifests are those of deploy/kubernetes/");
    // Every file of deploy/ the README or the Kubernetes folder's README names exists,
    // and the folder's README names every manifest.
    let folder_readme = read("deploy/kubernetes/README.md");
    for text in [&readme, &folder_readme] {
        for (at, _) in text.match_indices("deploy/") {
            let path: String = text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || "/._-".contains(*c)).collect();
            let path = path.trim_end_matches('.');
            assert!(root().join(path).exists(), "{path}, named in the README, is not in the project");
        }
    }
    for (file, _) in manifests() {
        assert!(folder_readme.contains(&format!("({file})")), "deploy/kubernetes/README.md links {file}");
    }
}

#[test]
fn the_configuration_examples_of_the_readme_and_the_docs_are_ones_the_bot_accepts() {
    let mut examples = 0;
    for file in ["README.md", "docs/configuration.md"] {
        let text = read(file);
        for (at, _) in text.match_indices("```toml\n") {
            let block = &text[at + 8..];
            let block = &block[..block.find("```").unwrap_or_else(|| panic!("{file}: a toml block without its end"))];
            Config::parse(Path::new(file), block).unwrap_or_else(|e| panic!("{file}'s example is refused:\n{e}"));
            examples += 1;
        }
    }
    assert!(examples >= 2, "the README and docs/configuration.md each show the file");
}
