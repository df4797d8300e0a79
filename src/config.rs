//! The gateway's settings: command-line flags, environment variables (`SIO_…`) and an
//! optional TOML file, in that order of precedence, over defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde::Deserialize;

/// How clients prove who they are when they join a namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AuthMode {
    /// Anyone may join.
    #[default]
    None,
    /// A JWT in the handshake's `auth.token` (or an `Authorization: Bearer` header): its
    /// claims become the socket's data; a `rooms` claim (array of strings) names rooms
    /// to join.
    Jwt,
    /// The gateway POSTs the handshake to a URL, which answers
    /// `{"allow": bool, "data": …, "rooms": […], "message": "…"}`.
    Webhook,
}

/// The cluster adapter, as the cluster's Node servers configure theirs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AdapterKind {
    /// `@socket.io/redis-adapter`'s `createAdapter` (`PUBLISH`/`SUBSCRIBE`; what
    /// `@socket.io/redis-emitter` reaches).
    #[default]
    Classic,
    /// Its `createShardedAdapter` (Redis 7 sharded pub/sub, `dynamic` mode).
    Sharded,
    /// `@socket.io/redis-streams-adapter` (a Redis stream; with `--recovery-window-ms`,
    /// clients recover on any node).
    Streams,
}

/// Log output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// socketio-gateway: a standalone Socket.IO server. Browsers connect with the official
/// client; any backend pushes events to them with `POST /api/v1/emit`.
///
/// Every option may also come from an environment variable (shown) or a TOML file
/// (`--config`, keys as the long flags with `_` for `-`); flags win over the
/// environment, which wins over the file.
#[derive(Debug, Default, Parser)]
#[command(version, about, long_about)]
pub(crate) struct Cli {
    /// TOML file with any of the options below.
    #[arg(long, env = "SIO_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:3000].
    #[arg(long, env = "SIO_LISTEN", value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,

    /// Origins (`scheme://host:port`) whose pages may connect and get CORS headers,
    /// comma-separated; `*` allows any [default: the server's own origin only].
    #[arg(
        long,
        env = "SIO_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGINS"
    )]
    pub(crate) allowed_origins: Option<Vec<String>>,

    /// Namespaces clients may join, comma-separated; `*` matches any characters
    /// (`/orders/*`) [default: `/`, plus `/chat` with the demo].
    #[arg(
        long,
        env = "SIO_NAMESPACES",
        value_delimiter = ',',
        value_name = "PATTERNS"
    )]
    pub(crate) namespaces: Option<Vec<String>>,

    /// Serve the demo chat at `/` and its namespace `/chat` [default: true].
    #[arg(long, env = "SIO_DEMO", value_name = "BOOL")]
    pub(crate) demo: Option<bool>,

    /// Heartbeat interval in milliseconds [default: 25000].
    #[arg(long, env = "SIO_PING_INTERVAL_MS", value_name = "MS")]
    pub(crate) ping_interval_ms: Option<u64>,

    /// Time a client has to answer a heartbeat, in milliseconds [default: 20000].
    #[arg(long, env = "SIO_PING_TIMEOUT_MS", value_name = "MS")]
    pub(crate) ping_timeout_ms: Option<u64>,

    /// Largest message a client may send, in bytes [default: 1000000].
    #[arg(long, env = "SIO_MAX_PAYLOAD", value_name = "BYTES")]
    pub(crate) max_payload: Option<u64>,

    /// Most concurrent connections [default: 100000].
    #[arg(long, env = "SIO_MAX_CONNECTIONS", value_name = "N")]
    pub(crate) max_connections: Option<usize>,

    /// Bytes queued for one client before it counts as too slow and is disconnected
    /// [default: 4000000].
    #[arg(long, env = "SIO_MAX_BUFFERED_BYTES", value_name = "BYTES")]
    pub(crate) max_buffered_bytes: Option<usize>,

    /// Connection state recovery: how long a dropped client may take to come back and
    /// receive what it missed, in milliseconds; 0 turns it off [default: 120000].
    #[arg(long, env = "SIO_RECOVERY_WINDOW_MS", value_name = "MS")]
    pub(crate) recovery_window_ms: Option<u64>,

    /// Client authentication [default: none].
    #[arg(long, env = "SIO_AUTH", value_enum, value_name = "MODE")]
    pub(crate) auth: Option<AuthMode>,

    /// HS256 secret for `--auth jwt`.
    #[arg(
        long,
        env = "SIO_JWT_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub(crate) jwt_secret: Option<String>,

    /// PEM file with the RS256 public key for `--auth jwt` (instead of a secret).
    #[arg(long, env = "SIO_JWT_PUBLIC_KEY", value_name = "FILE")]
    pub(crate) jwt_public_key: Option<PathBuf>,

    /// With `--auth jwt`: the audience (`aud`) a token must name. Without it, tokens that
    /// carry an `aud` are accepted whatever it says.
    #[arg(long, env = "SIO_JWT_AUDIENCE", value_name = "AUD")]
    pub(crate) jwt_audience: Option<String>,

    /// With `--auth jwt`: the issuer (`iss`) a token must name.
    #[arg(long, env = "SIO_JWT_ISSUER", value_name = "ISS")]
    pub(crate) jwt_issuer: Option<String>,

    /// URL that `--auth webhook` POSTs each handshake to.
    #[arg(long, env = "SIO_WEBHOOK_URL", value_name = "URL")]
    pub(crate) webhook_url: Option<String>,

    /// Keys that the publish API accepts as `Authorization: Bearer <key>`, comma-separated
    /// [default: one random key, printed at startup].
    #[arg(
        long,
        alias = "api-key",
        env = "SIO_API_KEYS",
        value_delimiter = ',',
        value_name = "KEYS",
        hide_env_values = true
    )]
    pub(crate) api_keys: Option<Vec<String>>,

    /// Log format [default: pretty].
    #[arg(long, env = "SIO_LOG_FORMAT", value_enum, value_name = "FORMAT")]
    pub(crate) log_format: Option<LogFormat>,

    /// Log filter, e.g. `info` or `socketio=debug,info` [default: info].
    #[arg(long, env = "SIO_LOG", value_name = "FILTER")]
    pub(crate) log: Option<String>,

    /// PEM certificate chain: serve HTTPS and WSS (with `--tls-key`).
    #[arg(long, env = "SIO_TLS_CERT", value_name = "FILE")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// PEM private key for `--tls-cert`.
    #[arg(long, env = "SIO_TLS_KEY", value_name = "FILE")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Time given to clients to be told and connections to drain on SIGTERM/SIGINT, in
    /// milliseconds [default: 10000].
    #[arg(long, env = "SIO_SHUTDOWN_TIMEOUT_MS", value_name = "MS")]
    pub(crate) shutdown_timeout_ms: Option<u64>,

    /// Redis through which this server joins a cluster (`redis://host:port/db`): the
    /// publish API of any node reaches the clients of every node. Without it the server
    /// is alone.
    #[arg(long, env = "SIO_REDIS_URL", value_name = "URL")]
    pub(crate) redis_url: Option<String>,

    /// The cluster's adapter, the one its Node servers use [default: classic].
    #[arg(long, env = "SIO_ADAPTER", value_enum, value_name = "KIND")]
    pub(crate) adapter: Option<AdapterKind>,

    /// Prefix of the cluster's Redis channels (Node's `key`, or `channelPrefix` for the
    /// sharded adapter) [default: socket.io].
    #[arg(long, env = "SIO_REDIS_KEY", value_name = "PREFIX")]
    pub(crate) redis_key: Option<String>,
}

/// The TOML file: the same options, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    allowed_origins: Option<Vec<String>>,
    namespaces: Option<Vec<String>>,
    demo: Option<bool>,
    ping_interval_ms: Option<u64>,
    ping_timeout_ms: Option<u64>,
    max_payload: Option<u64>,
    max_connections: Option<usize>,
    max_buffered_bytes: Option<usize>,
    recovery_window_ms: Option<u64>,
    auth: Option<AuthMode>,
    jwt_secret: Option<String>,
    jwt_public_key: Option<PathBuf>,
    jwt_audience: Option<String>,
    jwt_issuer: Option<String>,
    webhook_url: Option<String>,
    api_keys: Option<Vec<String>>,
    log_format: Option<LogFormat>,
    log: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    shutdown_timeout_ms: Option<u64>,
    redis_url: Option<String>,
    adapter: Option<AdapterKind>,
    redis_key: Option<String>,
}

/// How this server joins a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClusterSettings {
    pub(crate) redis_url: String,
    pub(crate) adapter: AdapterKind,
    pub(crate) key: String,
}

/// Claims a JWT must carry besides a valid signature and times.
#[derive(Clone, Debug, Default)]
pub(crate) struct JwtClaims {
    pub(crate) audience: Option<String>,
    pub(crate) issuer: Option<String>,
}

/// How clients are authenticated, with what it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Auth {
    /// Anyone may join.
    None,
    /// HS256 with a shared secret.
    JwtSecret(String),
    /// RS256 with a PEM public key.
    JwtPublicKey(Vec<u8>),
    /// Ask this URL.
    Webhook(String),
}

impl Auth {
    /// The mode's name, for logs.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::JwtSecret(_) | Auth::JwtPublicKey(_) => "jwt",
            Auth::Webhook(_) => "webhook",
        }
    }
}

/// Settings after merging flags, environment, file and defaults.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) listen: SocketAddr,
    /// `None`: the server's own origin only; `Some([])` never happens; `["*"]`: any.
    pub(crate) allowed_origins: Option<Vec<String>>,
    pub(crate) namespaces: Vec<String>,
    pub(crate) demo: bool,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) max_payload: u64,
    pub(crate) max_connections: usize,
    pub(crate) max_buffered_bytes: usize,
    pub(crate) recovery_window: Option<Duration>,
    pub(crate) auth: Auth,
    /// What a JWT must also say, with `--auth jwt`.
    pub(crate) jwt_claims: JwtClaims,
    pub(crate) api_keys: Vec<String>,
    /// The API key was generated: print it.
    pub(crate) generated_api_key: bool,
    pub(crate) log_format: LogFormat,
    pub(crate) log: String,
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
    pub(crate) shutdown_timeout: Duration,
    /// `None`: a single server.
    pub(crate) cluster: Option<ClusterSettings>,
}

/// Settings that cannot work, with what to fix.
#[derive(Debug)]
pub(crate) struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| ConfigError(format!("cannot read {}: {error}", path.display())))?;
    toml::from_str(&text).map_err(|error| ConfigError(format!("{}: {error}", path.display())))
}

fn random_key() -> String {
    use std::fmt::Write;
    let bytes: [u8; 24] = rand::random();
    bytes.iter().fold(String::new(), |mut key, byte| {
        let _ = write!(key, "{byte:02x}");
        key
    })
}

impl Settings {
    /// Merges `cli` (flags and environment) over the TOML file it names, over defaults.
    pub(crate) fn from_cli(cli: Cli) -> Result<Settings, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let demo = cli.demo.or(file.demo).unwrap_or(true);
        let namespaces = cli.namespaces.or(file.namespaces).unwrap_or_else(|| {
            let mut namespaces = vec!["/".to_owned()];
            if demo {
                namespaces.push("/chat".to_owned());
            }
            namespaces
        });
        for namespace in &namespaces {
            if !namespace.starts_with('/') {
                return Err(ConfigError(format!(
                    "namespace pattern {namespace:?} must start with /"
                )));
            }
        }
        let mode = cli.auth.or(file.auth).unwrap_or_default();
        let material = [
            (
                "--jwt-secret",
                cli.jwt_secret.is_some() || file.jwt_secret.is_some(),
            ),
            (
                "--jwt-public-key",
                cli.jwt_public_key.is_some() || file.jwt_public_key.is_some(),
            ),
            (
                "--webhook-url",
                cli.webhook_url.is_some() || file.webhook_url.is_some(),
            ),
        ];
        if mode == AuthMode::None
            && let Some((name, _)) = material.iter().find(|(_, given)| *given)
        {
            // Credentials without a mode would leave the server open by mistake.
            return Err(ConfigError(format!(
                "{name} is set but --auth is none: choose --auth jwt or --auth webhook"
            )));
        }
        // The key comes from one source, flags and environment over the file.
        let (jwt_secret, jwt_public_key) =
            if cli.jwt_secret.is_some() || cli.jwt_public_key.is_some() {
                (cli.jwt_secret, cli.jwt_public_key)
            } else {
                (file.jwt_secret, file.jwt_public_key)
            };
        let jwt_claims = JwtClaims {
            audience: cli.jwt_audience.or(file.jwt_audience),
            issuer: cli.jwt_issuer.or(file.jwt_issuer),
        };
        let auth = match mode {
            AuthMode::None => Auth::None,
            AuthMode::Jwt => match (jwt_secret, jwt_public_key) {
                (Some(secret), None) => Auth::JwtSecret(secret),
                (None, Some(path)) => {
                    Auth::JwtPublicKey(std::fs::read(&path).map_err(|error| {
                        ConfigError(format!("cannot read {}: {error}", path.display()))
                    })?)
                }
                _ => {
                    return Err(ConfigError(
                        "--auth jwt needs exactly one of --jwt-secret and --jwt-public-key".into(),
                    ));
                }
            },
            AuthMode::Webhook => Auth::Webhook(
                cli.webhook_url
                    .or(file.webhook_url)
                    .ok_or_else(|| ConfigError("--auth webhook needs --webhook-url".into()))?,
            ),
        };
        let mut api_keys: Vec<String> = cli
            .api_keys
            .or(file.api_keys)
            .unwrap_or_default()
            .into_iter()
            .filter(|key| !key.is_empty())
            .collect();
        let generated_api_key = api_keys.is_empty();
        if generated_api_key {
            api_keys.push(random_key());
        }
        let tls = match (cli.tls_cert.or(file.tls_cert), cli.tls_key.or(file.tls_key)) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(ConfigError("--tls-cert and --tls-key go together".into()));
            }
        };
        let adapter = cli.adapter.or(file.adapter);
        let redis_key = cli.redis_key.or(file.redis_key);
        let cluster = match cli.redis_url.or(file.redis_url) {
            Some(redis_url) => Some(ClusterSettings {
                redis_url,
                adapter: adapter.unwrap_or_default(),
                key: redis_key.unwrap_or_else(|| "socket.io".to_owned()),
            }),
            None if adapter.is_some() || redis_key.is_some() => {
                return Err(ConfigError(
                    "--adapter and --redis-key need --redis-url".into(),
                ));
            }
            None => None,
        };
        let millis = Duration::from_millis;
        let recovery_window = cli
            .recovery_window_ms
            .or(file.recovery_window_ms)
            .unwrap_or(120_000);
        Ok(Settings {
            listen: cli
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000))),
            allowed_origins: cli.allowed_origins.or(file.allowed_origins),
            namespaces,
            demo,
            ping_interval: millis(
                cli.ping_interval_ms
                    .or(file.ping_interval_ms)
                    .unwrap_or(25_000),
            ),
            ping_timeout: millis(
                cli.ping_timeout_ms
                    .or(file.ping_timeout_ms)
                    .unwrap_or(20_000),
            ),
            max_payload: cli.max_payload.or(file.max_payload).unwrap_or(1_000_000),
            max_connections: cli
                .max_connections
                .or(file.max_connections)
                .unwrap_or(100_000),
            max_buffered_bytes: cli
                .max_buffered_bytes
                .or(file.max_buffered_bytes)
                .unwrap_or(4_000_000),
            recovery_window: (recovery_window > 0).then(|| millis(recovery_window)),
            auth,
            jwt_claims,
            api_keys,
            generated_api_key,
            log_format: cli.log_format.or(file.log_format).unwrap_or_default(),
            log: cli.log.or(file.log).unwrap_or_else(|| "info".to_owned()),
            tls,
            shutdown_timeout: millis(
                cli.shutdown_timeout_ms
                    .or(file.shutdown_timeout_ms)
                    .unwrap_or(10_000),
            ),
            cluster,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let settings = Settings::from_cli(Cli::default()).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(settings.namespaces, ["/", "/chat"]);
        assert!(settings.generated_api_key);
        assert_eq!(settings.api_keys[0].len(), 48);
        assert_eq!(settings.recovery_window, Some(Duration::from_secs(120)));
        assert_eq!(settings.auth, Auth::None);
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = std::env::temp_dir().join(format!("gateway-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gateway.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:4000\"\nping_interval_ms = 1000\napi_keys = [\"file-key\"]\n",
        )
        .unwrap();
        let cli = Cli::parse_from([
            "gateway",
            "--config",
            path.to_str().unwrap(),
            "--listen",
            "127.0.0.1:5000",
        ]);
        let settings = Settings::from_cli(cli).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:5000");
        assert_eq!(settings.ping_interval, Duration::from_millis(1000));
        assert_eq!(settings.api_keys, ["file-key"]);
        assert!(!settings.generated_api_key);
    }

    #[test]
    fn unknown_file_keys_and_incomplete_auth_are_refused() {
        let dir = std::env::temp_dir().join(format!("gateway-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gateway.toml");
        std::fs::write(&path, "listn = \"0.0.0.0:4000\"\n").unwrap();
        let cli = Cli::parse_from(["gateway", "--config", path.to_str().unwrap()]);
        assert!(Settings::from_cli(cli).unwrap_err().0.contains("listn"));
        let cli = Cli::parse_from(["gateway", "--auth", "jwt"]);
        assert!(Settings::from_cli(cli).is_err());
        let cli = Cli::parse_from(["gateway", "--auth", "webhook"]);
        assert!(Settings::from_cli(cli).is_err());
        // Credentials without a mode: refused rather than left unused.
        let cli = Cli::parse_from(["gateway", "--jwt-secret", "s"]);
        assert!(Settings::from_cli(cli).unwrap_err().0.contains("--auth"));
    }

    #[test]
    fn a_jwt_key_on_the_command_line_wins_over_the_file() {
        let dir = std::env::temp_dir().join(format!("gateway-config-jwt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key.pem");
        std::fs::write(&key, "not read until the authenticator is built").unwrap();
        let path = dir.join("gateway.toml");
        std::fs::write(&path, "auth = \"jwt\"\njwt_secret = \"from-file\"\n").unwrap();
        let cli = Cli::parse_from([
            "gateway",
            "--config",
            path.to_str().unwrap(),
            "--jwt-public-key",
            key.to_str().unwrap(),
            "--jwt-audience",
            "chat",
        ]);
        let settings = Settings::from_cli(cli).unwrap();
        assert!(matches!(settings.auth, Auth::JwtPublicKey(_)));
        assert_eq!(settings.jwt_claims.audience.as_deref(), Some("chat"));
    }
}
