//! The one wasmtime engine, and the thread that drives its epochs.

use super::RuntimeConfig;
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Strategy};

/// Which compiler made a component's code.
///
/// Uploads are compiled twice: first by Winch, a baseline compiler that is
/// about an order of magnitude faster than Cranelift but emits slower code,
/// so that a deploy answers quickly; then by Cranelift in the background,
/// whose code replaces Winch's for every job that starts after it lands.
/// Trusted (built-in) components go straight to Cranelift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Winch: fast to compile, slower to run. Only ever a stopgap.
    Quick,
    /// Cranelift, optimizing: what jobs normally run on.
    Optimized,
}

/// Memories per component: the guest's own plus the WASI adapter's.
const MEMORIES_PER_COMPONENT: u32 = 4;
const TABLES_PER_COMPONENT: u32 = 8;
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;
/// Room for std's function table; far beyond any real guest.
const TABLE_ELEMENTS: usize = 100_000;
/// Bytes of each memory slot kept resident between jobs.
const KEEP_RESIDENT_MEMORY: usize = 4 << 20;
/// Bytes of each table slot kept resident between jobs.
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

/// Builds the engine whose code is of `tier`. The two tiers' engines differ
/// only in their compiler (and the quick one allocates instances on demand:
/// it runs a component only until its optimized code lands), so a component
/// behaves the same under both, fuel counts included.
pub(crate) fn build(config: &RuntimeConfig, tier: Tier) -> wasmtime::Result<Engine> {
    let slots = config.max_concurrent_jobs;
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(slots)
        .total_core_instances(slots * CORE_INSTANCES_PER_COMPONENT)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .total_memories(slots * MEMORIES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_memories_per_module(1)
        .total_tables(slots * TABLES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .table_elements(TABLE_ELEMENTS)
        // Per-job memory is enforced by the store's limiter; this only sizes the slots.
        .max_memory_size(config.max_memory_bytes as usize)
        // One fiber stack per running job (describe calls take a job slot too).
        .total_stacks(slots);
    // Reset reused slots with memset over the pages a job touched
    // (found with PAGEMAP_SCAN where the kernel has it) instead of
    // madvise: no page faults and no TLB shootdowns on the next job.
    // Measured in bench/: this takes hello-world from ~40 µs to ~13 µs.
    pool.linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
        .table_keep_resident(KEEP_RESIDENT_TABLE)
        .pagemap_scan(wasmtime::Enabled::Auto);

    let mut c = Config::new();
    let strategy = if config.pooling_allocator && tier == Tier::Optimized {
        InstanceAllocationStrategy::Pooling(pool)
    } else {
        InstanceAllocationStrategy::OnDemand
    };
    if config.perf_map {
        c.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    c.strategy(match tier {
        Tier::Quick => Strategy::Winch,
        Tier::Optimized => Strategy::Cranelift,
    });
    c.allocation_strategy(strategy)
        .wasm_component_model(true)
        .consume_fuel(config.fuel_metering)
        .epoch_interruption(true)
        .max_wasm_stack(config.max_wasm_stack)
        .async_stack_size(config.max_wasm_stack + (1 << 20));
    Engine::new(&c)
}

/// A short tag that changes whenever compiled code from this engine would
/// not load in another (version, settings, CPU features).
pub(crate) fn fingerprint(engine: &Engine) -> String {
    // DefaultHasher is fine: the tag only has to be stable for one build of wades.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Advances the engine's epoch on a dedicated OS thread, so a spinning guest
/// cannot starve it the way it could starve an async task.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engines: &[&Engine], tick: std::time::Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak: Vec<_> = engines.iter().map(|e| e.weak()).collect();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wades-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    let mut alive = false;
                    for engine in weak.iter().filter_map(|w| w.upgrade()) {
                        engine.increment_epoch();
                        alive = true;
                    }
                    if !alive {
                        break;
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
