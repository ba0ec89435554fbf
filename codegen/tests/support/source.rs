//! Typed programs from source text, through the real parser and checker
//! against the host's BTF and tracefs.

#![allow(dead_code)]

use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_lang::diag::render_all;
use flowtrace_lang::typed::TypedProgram;
use flowtrace_lang::{CheckOptions, Source};
use std::sync::OnceLock;

pub fn kernel() -> &'static KernelInfo {
    static K: OnceLock<KernelInfo> = OnceLock::new();
    K.get_or_init(|| KernelInfo::open_default().expect("host BTF"))
}

pub fn typed(text: &str) -> TypedProgram {
    typed_with(text, &CheckOptions::default())
}

pub fn typed_with(text: &str, options: &CheckOptions) -> TypedProgram {
    let source = Source::new("test.ft", text);
    let ast = flowtrace_lang::parse(&source).unwrap_or_else(|d| panic!("parse:\n{}", render_all(&d, &source)));
    flowtrace_lang::check(&ast, kernel(), options).unwrap_or_else(|d| panic!("check:\n{}", render_all(&d, &source)))
}

/// Compile or panic with the diagnostics rendered against the source.
pub fn compiled(text: &str) -> flowtrace_codegen::object::CompiledProgram {
    compiled_with(text, &CheckOptions::default())
}

/// Like [`compiled`], with checker options (`str()` sizes).
pub fn compiled_with(text: &str, options: &CheckOptions) -> flowtrace_codegen::object::CompiledProgram {
    let typed = typed_with(text, options);
    let source = Source::new("test.ft", text);
    flowtrace_codegen::compile(&typed, &flowtrace_codegen::CompileOptions::default())
        .unwrap_or_else(|d| panic!("compile:\n{}", render_all(&d, &source)))
}
