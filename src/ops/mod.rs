//! Operations: what an operator sees of the running pipeline. Counters and health in ([`metrics`]),
//! served over HTTP ([`monitor`]) with the process's own figures ([`process`]), and the log lines
//! ([`logging`]). Nothing here can slow or stop delivery: the pipeline writes counters, these read them.

pub mod logging;
pub mod metrics;
pub mod monitor;
pub mod process;
pub mod supervise;
