//! Creating an operation: validate, select probes, debit the owner, fan out.

use super::select::Selection;
use super::Prices;
use crate::domain::{Credits, OperationId, ProbeId};
use crate::hub::Hub;
use crate::store::{Operation, Probe, Store, StoreError, User};
use chrono::{DateTime, Utc};
use probe_protocol::params::{self, Params};
use probe_protocol::{OperationKind, ResultFormat};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// POST /traceroute, /ping and /dns.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = OperationRequest)]
pub struct CreateRequest {
    /// Identifiers of the probes to run it on (at least one). Exactly one of `probes` and
    /// `select` is given.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub probes: Option<Vec<String>>,
    /// Probes chosen by place instead: up to `limit` connected probes with free capacity within
    /// `radius_km` of `near`, drawn at random. Exactly one of `probes` and `select` is given.
    #[serde(default)]
    #[schema(value_type = Option<super::select::SelectDoc>)]
    pub select: Option<Value>,
    /// Parameters: `cron`, `stop_time` (`dd/mm/YYYY HH:MM`, UTC), `times_per_minute` and the
    /// kind's own (see docs/api.md).
    #[schema(value_type = Object, example = json!({"cron": "* * * * *", "stop_time": "31/12/2030 23:59", "times_per_minute": 1, "ips": ["192.0.2.1"]}))]
    pub params: Map<String, Value>,
    /// `json` (default) or `dump` for traceroute; ignored for ping (json) and dns (text).
    #[serde(default)]
    pub result_format: Option<String>,
    /// The original frontend's scripts sometimes repeat the kind here; it is ignored.
    #[serde(default)]
    #[schema(ignore)]
    pub operation: Option<Value>,
}

/// Why an operation was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// A field of the request is invalid; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// A listed probe does not exist.
    #[error("probe {0} doesn't exist")]
    UnknownProbe(ProbeId),
    /// A listed probe identifier is not one at all (shown cut short); no such probe can exist,
    /// and the original answered it like an unknown probe.
    #[error("probe \"{0}\" doesn't exist: not a probe identifier")]
    MalformedProbe(String),
    /// None of the listed probes is connected with enough free capacity.
    #[error("No available probes")]
    NoAvailableProbes,
    /// The owner's balance does not cover the cost.
    #[error("Not enough credits")]
    NotEnoughCredits,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates `request`, assigns it to the listed probes that can take it, debits the owner
/// atomically (in `store`), remembers its price in `prices` and sends the operation through
/// `hub` to the selected probes that are connected.
///
/// The checks run in the original's order, so that each mistake gets its status: an empty probe
/// list and invalid parameters first (400), then the probe identifiers (404).
pub async fn create(
    store: &dyn Store,
    hub: &dyn Hub,
    prices: &Prices,
    owner: &User,
    kind: OperationKind,
    request: CreateRequest,
) -> Result<Operation, CreateError> {
    let now = Utc::now();
    let choice = Choice::of(request.probes, request.select)?;
    let result_format = result_format(kind, request.result_format.as_deref())?;
    let params = params::parse(kind, &request.params, now)
        .map_err(|e| CreateError::Invalid(e.to_string()))?;
    let per_probe = cost_per_probe(&params, now)?;
    let selected = match choice {
        Choice::Ids(raw) => select_probes(store, &parse_probe_ids(&raw)?, per_probe).await?,
        Choice::Near(selection) => selection.choose(store, per_probe).await?,
    };
    let total = (per_probe * selected.len() as f64).ceil();
    let credits = to_credits(total)?;
    let operation = Operation {
        id: OperationId::generate(),
        owner: owner.id,
        kind,
        params: request.params,
        probes: selected,
        credits,
        credits_per_probe: per_probe.ceil() as u64,
        result_format,
        stop_time: params.schedule().stop_time(),
        created_at: now,
        max_results_per_probe: params.max_results(now),
    };
    match store.create_operation(&operation).await {
        Err(StoreError::NotEnoughCredits) => return Err(CreateError::NotEnoughCredits),
        other => other?,
    }
    prices.remember(&operation);
    let delivered = hub.deliver(&operation.probes, super::order_frame(&operation));
    tracing::info!(
        operation = %operation.id,
        probes = operation.probes.len(),
        delivered,
        credits = %operation.credits,
        "operation created"
    );
    Ok(operation)
}

/// How the request names its probes.
enum Choice {
    /// `probes`: by identifier.
    Ids(Vec<String>),
    /// `select`: by place.
    Near(Selection),
}

impl Choice {
    /// Exactly one of the two, the list not empty.
    fn of(probes: Option<Vec<String>>, select: Option<Value>) -> Result<Self, CreateError> {
        match (probes, select) {
            (Some(_), Some(_)) => Err(CreateError::Invalid(
                "select: give either probes or select, not both".into(),
            )),
            (None, Some(select)) => Selection::parse(&select).map(Choice::Near),
            (Some(probes), None) if !probes.is_empty() => Ok(Choice::Ids(probes)),
            _ => Err(CreateError::Invalid(
                "probes: at least one probe identifier is required (or select, to choose \
                 probes by place)"
                    .into(),
            )),
        }
    }
}

/// The listed identifiers without repeats, in order.
fn parse_probe_ids(raw: &[String]) -> Result<Vec<ProbeId>, CreateError> {
    let mut ids = Vec::with_capacity(raw.len());
    let mut seen = std::collections::HashSet::with_capacity(raw.len());
    for text in raw {
        let id: ProbeId = text
            .parse()
            .map_err(|_| CreateError::MalformedProbe(params::echo(text)))?;
        if seen.insert(id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Traceroute offers json (default) and dump; ping is always json and dns always text, whatever
/// was asked (the original frontend sends "json" for every kind).
fn result_format(
    kind: OperationKind,
    requested: Option<&str>,
) -> Result<ResultFormat, CreateError> {
    match (kind, requested) {
        (OperationKind::Traceroute, None | Some("json")) => Ok(ResultFormat::Json),
        (OperationKind::Traceroute, Some("dump")) => Ok(ResultFormat::Dump),
        (OperationKind::Traceroute, Some(other)) => Err(CreateError::Invalid(format!(
            "result_format: must be \"json\" or \"dump\" for traceroute, not {other:?}"
        ))),
        (OperationKind::Ping, _) => Ok(ResultFormat::Json),
        (OperationKind::Dns, _) => Ok(ResultFormat::Text),
    }
}

/// What one probe's share of the operation costs over its whole schedule, as the original:
/// credits per execution × estimated executions × times per minute.
fn cost_per_probe(params: &Params, now: DateTime<Utc>) -> Result<f64, CreateError> {
    let cost = params.credits_per_execution() as f64 * params.schedule().estimated_runs(now);
    if cost.is_finite() && cost <= crate::domain::MAX_CREDITS as f64 {
        Ok(cost)
    } else {
        Err(CreateError::Invalid(
            "params: the schedule costs more credits than can exist".into(),
        ))
    }
}

fn to_credits(amount: f64) -> Result<Credits, CreateError> {
    if amount.is_finite() && amount >= 0.0 && amount <= crate::domain::MAX_CREDITS as f64 {
        Credits::new(amount as u64).map_err(|e| CreateError::Invalid(format!("params: {e}")))
    } else {
        Err(CreateError::Invalid(
            "params: the operation costs more credits than can exist".into(),
        ))
    }
}

/// The listed probes that are connected and whose free capacity covers `per_probe`.
async fn select_probes(
    store: &dyn Store,
    ids: &[ProbeId],
    per_probe: f64,
) -> Result<Vec<ProbeId>, CreateError> {
    let mut selected = Vec::new();
    let found = store.probes_by_id(ids).await?;
    for (&id, probe) in ids.iter().zip(found) {
        let probe: Probe = probe.ok_or(CreateError::UnknownProbe(id))?;
        if probe
            .link
            .as_ref()
            .is_some_and(|link| link.available_credits() as f64 >= per_probe)
        {
            selected.push(id);
        }
    }
    if selected.is_empty() {
        return Err(CreateError::NoAvailableProbes);
    }
    Ok(selected)
}
