//! libbarrier against systemd's own barrier, as the distribution ships it
//! compiled in `libsystemd-shared-<version>.so`: the random two-process
//! scripts of the model test run on both at once, through the C API,
//! step by step, and every answer, every state and the open descriptors of
//! the acting side must be the same in both, and as the model says. Then
//! the differences the README lists ("Where it differs from systemd") are
//! checked to be exactly those.
//!
//! Both libraries are loaded at run time by `c-tests/reference/`, with
//! RTLD_LOCAL, and called only through the pointers it resolves; the test
//! checks with dladdr() that each pointer lies in the file it names.
//! Without systemd's library the test fails in CI (`CI` set) and says it
//! skipped elsewhere; `SYSTEMD_SHARED_LIB` names another file.

#[path = "../../barrier-core/tests/lockstep/mod.rs"]
mod lockstep;
mod support;

use barrier_core::RawBarrier;
use lockstep::{Backend, Kind, Outcome};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::os::fd::RawFd;
use std::path::Path;
use std::time::Duration;
use support::{library_dir, out_dir, root, strict_c};

/// `struct barrier_impl` of c-tests/reference/reference.h. The function
/// pointers are all set once the loader succeeded.
#[repr(C)]
struct Impl {
    path: [c_char; 4096],
    handle: *mut c_void,
    create: Option<unsafe extern "C" fn(*mut RawBarrier) -> c_int>,
    destroy: Option<unsafe extern "C" fn(*mut RawBarrier) -> *mut RawBarrier>,
    set_role: Option<unsafe extern "C" fn(*mut RawBarrier, c_int)>,
    place: Option<unsafe extern "C" fn(*mut RawBarrier) -> bool>,
    abort: Option<unsafe extern "C" fn(*mut RawBarrier) -> bool>,
    wait_next: Option<unsafe extern "C" fn(*mut RawBarrier) -> bool>,
    wait_abortion: Option<unsafe extern "C" fn(*mut RawBarrier) -> bool>,
    sync_next: Option<unsafe extern "C" fn(*mut RawBarrier) -> bool>,
    sync: Option<unsafe extern "C" fn(*mut RawBarrier) -> bool>,
}

type LoadFn = unsafe extern "C" fn(*mut Impl, *const c_char, *mut c_char, usize) -> c_int;
type ReferenceFn = unsafe extern "C" fn(*mut Impl, *mut c_char, usize) -> c_int;
type RequiredFn = unsafe extern "C" fn() -> bool;

/// The loader of c-tests/reference/, built as a shared object and opened.
struct Loader {
    load: LoadFn,
    reference: ReferenceFn,
    required: RequiredFn,
}

fn symbol(handle: *mut c_void, name: &str) -> *mut c_void {
    let c = CString::new(name).unwrap();
    // SAFETY: handle is an open dlopen handle and c a C string.
    let sym = unsafe { libc::dlsym(handle, c.as_ptr()) };
    assert!(!sym.is_null(), "the loader has no {name}");
    sym
}

impl Loader {
    fn build() -> Loader {
        let so = out_dir().join("libbarrier-reference-loader.so");
        std::fs::create_dir_all(out_dir()).unwrap();
        let status = strict_c()
            .args(["-shared", "-fPIC", "-I"])
            .arg(root().join("include"))
            .arg(root().join("c-tests/reference/reference.c"))
            .arg("-o")
            .arg(&so)
            .arg("-ldl")
            .status()
            .expect("running the C compiler");
        assert!(
            status.success(),
            "compiling c-tests/reference/reference.c failed"
        );
        let path = CString::new(so.to_str().unwrap()).unwrap();
        // SAFETY: path is a C string; the loader has no constructors.
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        assert!(!handle.is_null(), "dlopen of the loader failed");
        // SAFETY: the symbols are the loader's functions with these types
        // (reference.h).
        unsafe {
            Loader {
                load: std::mem::transmute::<*mut c_void, LoadFn>(symbol(
                    handle,
                    "barrier_impl_load",
                )),
                reference: std::mem::transmute::<*mut c_void, ReferenceFn>(symbol(
                    handle,
                    "reference_load",
                )),
                required: std::mem::transmute::<*mut c_void, RequiredFn>(symbol(
                    handle,
                    "reference_required",
                )),
            }
        }
    }

    fn finish(imp: Box<Impl>, r: c_int, err: &[c_char; 512]) -> Result<Box<Impl>, String> {
        if r == 0 {
            return Ok(imp);
        }
        // SAFETY: the loader wrote a NUL-terminated message into err.
        let msg = unsafe { CStr::from_ptr(err.as_ptr()) };
        Err(format!("{} ({r})", msg.to_string_lossy()))
    }

    /// Loads the barrier of the library at `path`.
    fn load(&self, path: &Path) -> Result<Box<Impl>, String> {
        // SAFETY: all-zero is a valid Impl: an empty path, a null handle,
        // no functions.
        let mut imp: Box<Impl> = Box::new(unsafe { std::mem::zeroed() });
        let mut err = [0 as c_char; 512];
        let p = CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: imp and err are live and as large as the loader expects.
        let r = unsafe { (self.load)(&mut *imp, p.as_ptr(), err.as_mut_ptr(), err.len()) };
        Loader::finish(imp, r, &err)
    }

    /// Loads systemd's barrier.
    fn reference(&self) -> Result<Box<Impl>, String> {
        // SAFETY: as in load().
        let mut imp: Box<Impl> = Box::new(unsafe { std::mem::zeroed() });
        let mut err = [0 as c_char; 512];
        // SAFETY: as in load().
        let r = unsafe { (self.reference)(&mut *imp, err.as_mut_ptr(), err.len()) };
        Loader::finish(imp, r, &err)
    }

    fn required(&self) -> bool {
        // SAFETY: takes nothing.
        unsafe { (self.required)() }
    }
}

impl Impl {
    fn path(&self) -> String {
        // SAFETY: the loader wrote a NUL-terminated path.
        unsafe { CStr::from_ptr(self.path.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// The file dladdr() names for each function pointer.
    fn files(&self) -> Vec<String> {
        let ptrs: [*const c_void; 9] = [
            self.create.map(|f| f as *const c_void),
            self.destroy.map(|f| f as *const c_void),
            self.set_role.map(|f| f as *const c_void),
            self.place.map(|f| f as *const c_void),
            self.abort.map(|f| f as *const c_void),
            self.wait_next.map(|f| f as *const c_void),
            self.wait_abortion.map(|f| f as *const c_void),
            self.sync_next.map(|f| f as *const c_void),
            self.sync.map(|f| f as *const c_void),
        ]
        .map(|p| p.expect("a function the loader did not set"));
        ptrs.iter()
            .map(|&p| {
                // SAFETY: info is written by dladdr, which reads p only as
                // an address.
                let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
                let ok = unsafe { libc::dladdr(p, &mut info) };
                assert!(ok != 0 && !info.dli_fname.is_null(), "dladdr knows no file");
                // SAFETY: dli_fname is a NUL-terminated path.
                let f = unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy();
                std::fs::canonicalize(&*f)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }
}

/// One implementation of the C API, by the name it goes by in reports.
struct CApi {
    name: &'static str,
    imp: Box<Impl>,
}

fn answer(ok: bool) -> Outcome {
    if ok {
        Outcome::Ok
    } else {
        Outcome::Aborted
    }
}

impl Backend for CApi {
    type End = RawBarrier;

    fn name(&self) -> &str {
        self.name
    }

    fn bounded(&self) -> bool {
        false
    }

    fn create(&self) -> RawBarrier {
        let mut b = RawBarrier::NULL;
        // SAFETY: b is a live Barrier.
        let r = unsafe { self.imp.create.unwrap()(&mut b) };
        assert_eq!(r, 0, "{}: barrier_create: {r}", self.name);
        b
    }

    fn set_role(&self, end: &mut RawBarrier, side: usize) {
        // SAFETY: end is a live Barrier made by this library.
        unsafe { self.imp.set_role.unwrap()(end, side as c_int) }
    }

    fn place(&self, end: &mut RawBarrier) -> Outcome {
        // SAFETY: as above.
        answer(unsafe { self.imp.place.unwrap()(end) })
    }

    fn abort(&self, end: &mut RawBarrier) -> Outcome {
        // SAFETY: as above.
        answer(unsafe { self.imp.abort.unwrap()(end) })
    }

    fn wait(&self, end: &mut RawBarrier, kind: Kind, bound: Option<Duration>) -> Outcome {
        assert!(bound.is_none(), "systemd's API has no bounded waits");
        let f = match kind {
            Kind::WaitNext => self.imp.wait_next,
            Kind::WaitAbortion => self.imp.wait_abortion,
            Kind::SyncNext => self.imp.sync_next,
            Kind::Sync => self.imp.sync,
            Kind::PlaceAndSync => {
                // As systemd's header has it inline: place, then sync.
                // SAFETY: as above.
                unsafe { self.imp.place.unwrap()(end) };
                self.imp.sync
            }
        };
        // SAFETY: as above.
        answer(unsafe { f.unwrap()(end) })
    }

    fn raw(&self, end: &RawBarrier) -> (i64, [RawFd; 4]) {
        (end.barriers, [end.me, end.them, end.pipe[0], end.pipe[1]])
    }

    fn destroy(&self, mut end: RawBarrier) {
        // SAFETY: as above.
        unsafe { self.imp.destroy.unwrap()(&mut end) };
    }
}

/// libbarrier's and systemd's barrier, loaded; None where systemd's
/// library is missing and that is allowed (outside CI).
fn load_both() -> Option<[CApi; 2]> {
    let loader = Loader::build();
    let ours = loader
        .load(&library_dir().join("libbarrier.so"))
        .unwrap_or_else(|e| panic!("loading libbarrier.so: {e}"));
    let systemd = match loader.reference() {
        Ok(imp) => imp,
        Err(e) if loader.required() => panic!("systemd's barrier is required in CI: {e}"),
        Err(e) => {
            println!("skipped: no libsystemd-shared: {e}");
            return None;
        }
    };
    Some([
        CApi {
            name: "libbarrier",
            imp: ours,
        },
        CApi {
            name: "systemd",
            imp: systemd,
        },
    ])
}

#[test]
fn libbarrier_and_systemd_answer_alike() {
    let Some(both) = load_both() else { return };

    // Each runs the library it names, every function of it.
    let ours = std::fs::canonicalize(library_dir().join("libbarrier.so")).unwrap();
    assert_eq!(both[0].imp.path(), ours.to_string_lossy());
    let name = Path::new(&both[1].imp.path())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("libsystemd-shared-"),
        "the reference is {name}, not systemd's library"
    );
    for c in &both {
        let path = c.imp.path();
        assert!(
            c.imp.files().iter().all(|f| *f == path),
            "{}: a function lies outside {path}: {:?}",
            c.name,
            c.imp.files()
        );
        println!("differential test: {} is {path}", c.name);
    }

    lockstep::run_scripts("differential test", 10_000, || lockstep::start_all(&both));
    println!("differential test: 0 divergences between libbarrier and systemd");
}
