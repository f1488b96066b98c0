//! The GPU device: adapter choice, the limits we ask for, and the errors a device can raise
//! after the fact (validation, out of memory, device lost), collected so a forward pass can
//! report them instead of hanging or printing to a console nobody reads.

use std::sync::{Arc, Mutex};

/// What the backend asks of the adapter.
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Use WebGPU's default limits instead of what the adapter offers (the model must run
    /// within them too).
    pub default_limits: bool,
    /// Split weights as if storage bindings held at most this many bytes (tests use it to
    /// exercise splitting on small models).
    pub max_weight_part_bytes: Option<u64>,
    /// Run the kernels that need no optional feature even where the adapter offers subgroups
    /// or `shader-f16` (the tests hold both paths to the CPU); the KV cache is then f32.
    pub portable_kernels: bool,
    /// The KV cache's element type.
    pub kv_cache: KvCache,
}

/// The GPU's KV cache element type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KvCache {
    /// f32: exact against the CPU backend, and what the llama.cpp comparisons use.
    #[default]
    F32,
    /// f16: half the memory and half attention's reads, llama.cpp's own default; needs an
    /// adapter with `shader-f16`.
    F16,
}

/// Optional device features the kernels use where the adapter offers them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelFeatures {
    /// Subgroup operations (natively on Vulkan, Metal, DX12; wgpu does not yet expose them on
    /// WebGPU).
    pub subgroups: bool,
    /// 16-bit floats in shaders and storage: the f16 KV cache.
    pub shader_f16: bool,
}

/// An open device and what we know about it.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// The largest storage binding the device allows.
    pub max_binding: u64,
    /// The largest part a weight is split into: `max_binding`, or the tests' smaller one.
    pub max_weight_part: u64,
    /// The optional features the device was opened with.
    pub features: KernelFeatures,
    /// Whether the KV cache holds f16.
    pub kv_f16: bool,
    /// The first error the device reported asynchronously, if any.
    failure: Arc<Mutex<Option<String>>>,
}

/// Why no GPU could be used.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    #[error("the GPU adapter refused a device: {0}")]
    NoDevice(String),
    #[error("{0}")]
    Unsupported(String),
}

impl Gpu {
    /// Opens the best adapter (natively Vulkan, Metal or DX12; `WGPU_BACKEND` and
    /// `WGPU_ADAPTER_NAME` choose another), with the limits it offers.
    pub async fn open(options: &GpuOptions) -> Result<Gpu, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            // wgpu lists every backend it was not built with; say what was looked for.
            .map_err(|_| {
                GpuError::NoAdapter(if cfg!(target_arch = "wasm32") {
                    "the browser offers no WebGPU adapter".into()
                } else {
                    "no Vulkan, Metal or DX12 adapter was found (WGPU_BACKEND chooses others)".into()
                })
            })?;
        let info = adapter.get_info();
        let offered = adapter.limits();
        let limits = if options.default_limits {
            wgpu::Limits::default()
        } else {
            // Everything the adapter offers that a compute backend cares about.
            wgpu::Limits {
                max_storage_buffer_binding_size: offered.max_storage_buffer_binding_size,
                max_buffer_size: offered.max_buffer_size,
                max_storage_buffers_per_shader_stage: offered.max_storage_buffers_per_shader_stage.min(16),
                max_compute_workgroup_storage_size: offered.max_compute_workgroup_storage_size,
                ..wgpu::Limits::default()
            }
        };
        let offered_features = adapter.features();
        let features = KernelFeatures {
            subgroups: !options.portable_kernels && offered_features.contains(wgpu::Features::SUBGROUP),
            shader_f16: !options.portable_kernels && offered_features.contains(wgpu::Features::SHADER_F16),
        };
        let kv_f16 = match options.kv_cache {
            KvCache::F32 => false,
            KvCache::F16 if features.shader_f16 => true,
            KvCache::F16 if options.portable_kernels => {
                return Err(GpuError::Unsupported("an f16 KV cache needs shader-f16, which portable kernels do not use".into()))
            }
            KvCache::F16 => {
                return Err(GpuError::Unsupported(format!("an f16 KV cache needs shader-f16, which {} does not offer", info.name)))
            }
        };
        let mut required_features = wgpu::Features::empty();
        if features.subgroups {
            required_features |= wgpu::Features::SUBGROUP;
        }
        if kv_f16 {
            required_features |= wgpu::Features::SHADER_F16;
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("clinicbench"),
                required_features,
                required_limits: limits.clone(),
                memory_hints: wgpu::MemoryHints::Performance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoDevice(e.to_string()))?;
        let failure = Arc::new(Mutex::new(None));
        let on_error = failure.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = on_error.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| describe_error(&e));
        }));
        let on_lost = failure.clone();
        device.set_device_lost_callback(move |reason, message| {
            let mut slot = on_lost.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| match message.trim() {
                "" => format!("the GPU device was lost ({reason:?}); reload the model to go on"),
                m => format!("the GPU device was lost ({reason:?}: {m}); reload the model to go on"),
            });
        });
        let device_max = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        let max_weight_part = options.max_weight_part_bytes.map_or(device_max, |m| m.min(device_max));
        Ok(Gpu { device, queue, info, limits, max_binding: device_max, max_weight_part, features, kv_f16, failure })
    }

    /// The error the device reported since it opened, if any.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A short name for reports: `NVIDIA H200 (Vulkan, subgroups)`.
    pub fn describe(&self) -> String {
        // Browsers may withhold the adapter's description.
        let name = if self.info.name.is_empty() { "an unnamed adapter" } else { &self.info.name };
        let api = match self.info.backend {
            wgpu::Backend::BrowserWebGpu => "WebGPU".to_string(),
            other => format!("{other:?}"),
        };
        let subgroups = if self.features.subgroups { ", subgroups" } else { "" };
        let kv = if self.kv_f16 { ", f16 KV cache" } else { "" };
        format!("{name} ({api}{subgroups}{kv})")
    }

    /// Whether the adapter is a software rasterizer (SwiftShader, lavapipe, WARP): far slower
    /// than the CPU backend for these kernels.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }
}

fn describe_error(e: &wgpu::Error) -> String {
    match e {
        wgpu::Error::OutOfMemory { .. } => "the GPU is out of memory".to_string(),
        other => format!("the GPU reported an error: {other}"),
    }
}
