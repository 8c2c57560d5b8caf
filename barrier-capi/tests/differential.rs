//! libbarrier against systemd's own barrier, as the distribution ships it
//! compiled in `libsystemd-shared-<version>.so`: the random two-process
//! scripts of the model test run on both at once, through the C API,
//! step by step, and every answer, every state and the open descriptors of
//! the acting side must be the same in both, and as the model says. Then
//! the differences that libbarrier(3) lists ("Differences from systemd") are
//! checked to be exactly those.
//!
//! Both libraries are loaded at run time by `c-tests/reference/`, with
//! RTLD_LOCAL, and called only through the pointers it resolves; the test
//! checks with dladdr() that each pointer lies in the file it names.
//! Without systemd's library the test fails in CI (`CI` set) and says it
//! skipped elsewhere; `SYSTEMD_SHARED_LIB` names another file.

#[path = "../../barrier-core/tests/common/mod.rs"]
mod common;
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
        // Built under a name of its own and renamed into place, so that
        // test processes running at once never open a half-written file.
        let so = out_dir().join("libbarrier-reference-loader.so");
        let tmp = out_dir().join(format!(
            "libbarrier-reference-loader.{}.so",
            std::process::id()
        ));
        std::fs::create_dir_all(out_dir()).unwrap();
        let status = strict_c()
            .args(["-shared", "-fPIC", "-I"])
            .arg(root().join("include"))
            .arg(root().join("c-tests/reference/reference.c"))
            .arg("-o")
            .arg(&tmp)
            .arg("-ldl")
            .status()
            .expect("running the C compiler");
        assert!(
            status.success(),
            "compiling c-tests/reference/reference.c failed"
        );
        std::fs::rename(&tmp, &so).unwrap();
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

    check_documented_differences(&both);
    lockstep::run_scripts("differential test", 10_000, || lockstep::start_all(&both));
    println!("differential test: 0 divergences between libbarrier and systemd");
}

/// What a call did in a child process of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// It returned, and the child exited with this code.
    Returned(i32),
    /// The child died of this signal (systemd's assertions abort).
    Died(i32),
    /// It fell asleep in ppoll() and stayed there.
    Blocked,
}

/// Runs `case` with one implementation in a child process, and says what
/// it did.
fn seen(case: impl FnOnce() -> u8) -> Seen {
    // SAFETY: the child only calls the barrier and syscalls, then _exit;
    // the test runs no other thread meanwhile.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // An assertion's abort is expected here: no core file, no message.
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: none is a live rlimit; the path is a C string.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            libc::dup2(null, 2);
        }
        common::exit_now(i32::from(case()));
    }
    let blocked = lockstep::await_blocked(pid, || common::process_state(pid) == 'Z')
        .unwrap_or_else(|e| panic!("{e}"));
    if blocked {
        // SAFETY: kill takes no pointers; pid is our unreaped child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    match (blocked, common::wait_for(pid)) {
        (true, common::Ended::Killed(libc::SIGKILL)) => Seen::Blocked,
        (_, common::Ended::Exited(code)) => Seen::Returned(code),
        (_, common::Ended::Killed(signal)) => Seen::Died(signal),
    }
}

fn created(imp: &Impl) -> RawBarrier {
    let mut b = RawBarrier::NULL;
    // SAFETY: b is a live Barrier.
    assert_eq!(unsafe { imp.create.unwrap()(&mut b) }, 0);
    b
}

/// Every field of the object, to compare before and after a call.
fn fields(b: &RawBarrier) -> (c_int, c_int, [c_int; 2], i64) {
    (b.me, b.them, b.pipe, b.barriers)
}

/// The cases of libbarrier(3)'s "Differences from systemd", each with
/// what libbarrier and what systemd must do.
#[allow(clippy::type_complexity)]
const DIFFERENCES: &[(&str, fn(&Impl) -> u8, Seen, Seen)] = {
    use Seen::*;
    const ABRT: i32 = libc::SIGABRT;
    &[
        (
            // Exit code: place's answer, +2 if the state is WE_ABORTED, +4
            // if the pipe end is closed (the fatal error's effects).
            "barrier_place() whose write fails",
            |imp| {
                let mut b = created(imp);
                // SAFETY: b is live; the descriptors are this process's.
                unsafe {
                    imp.set_role.unwrap()(&mut b, 0);
                    let ro = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
                    libc::dup2(ro, b.me);
                    let placed = imp.place.unwrap()(&mut b);
                    u8::from(placed)
                        + 2 * u8::from(b.barriers == i64::MIN + 1)
                        + 4 * u8::from(b.pipe[0] < 0 && b.pipe[1] < 0)
                }
            },
            Returned(6),
            Returned(7),
        ),
        (
            "barrier_create(NULL)",
            // SAFETY: NULL is what is tested.
            |imp| unsafe { imp.create.unwrap()(std::ptr::null_mut()) }.unsigned_abs() as u8,
            Returned(libc::EINVAL),
            Died(ABRT),
        ),
        (
            "barrier_set_role(NULL, BARRIER_PARENT)",
            // SAFETY: as above.
            |imp| unsafe {
                imp.set_role.unwrap()(std::ptr::null_mut(), 0);
                1
            },
            Returned(1),
            Died(ABRT),
        ),
        (
            // Exit code: 1 if the object is unchanged.
            "a second barrier_set_role()",
            |imp| {
                let mut b = created(imp);
                // SAFETY: b is live.
                unsafe { imp.set_role.unwrap()(&mut b, 0) };
                let before = fields(&b);
                // SAFETY: as above.
                unsafe { imp.set_role.unwrap()(&mut b, 1) };
                u8::from(fields(&b) == before)
            },
            Returned(1),
            Died(ABRT),
        ),
        (
            "barrier_set_role() with an unknown role",
            |imp| {
                let mut b = created(imp);
                let before = fields(&b);
                // SAFETY: b is live.
                unsafe { imp.set_role.unwrap()(&mut b, 7) };
                u8::from(fields(&b) == before)
            },
            Returned(1),
            Died(ABRT),
        ),
        (
            // Exit code: wait_next's answer, +2 if the object is unchanged.
            "barrier_wait_next() before barrier_set_role()",
            |imp| {
                let mut b = created(imp);
                let before = fields(&b);
                // SAFETY: b is live.
                let r = unsafe { imp.wait_next.unwrap()(&mut b) };
                u8::from(r) + 2 * u8::from(fields(&b) == before)
            },
            Returned(2),
            Blocked,
        ),
        (
            "barrier_place() on an object never created (BARRIER_NULL)",
            |imp| {
                let mut b = RawBarrier::NULL;
                // SAFETY: b is a live Barrier holding no descriptors.
                u8::from(unsafe { imp.place.unwrap()(&mut b) })
            },
            Returned(0),
            Died(ABRT),
        ),
        (
            "barrier_sync() on a destroyed object",
            |imp| {
                let mut b = created(imp);
                // SAFETY: b is live, then destroyed.
                unsafe {
                    imp.set_role.unwrap()(&mut b, 0);
                    imp.place.unwrap()(&mut b);
                    imp.destroy.unwrap()(&mut b);
                    u8::from(imp.sync.unwrap()(&mut b))
                }
            },
            // systemd's sees a counter of 0 and a sync already reached.
            Returned(0),
            Returned(1),
        ),
    ]
};

/// Each difference libbarrier(3) lists, and nothing else: libbarrier and
/// systemd each do exactly what the table says.
fn check_documented_differences(both: &[CApi; 2]) {
    let mut wrong = Vec::new();
    let mut check = |what: &str, got: [Seen; 2], ours: Seen, systemd: Seen| {
        println!(
            "differential test: {what}: libbarrier {:?}, systemd {:?}",
            got[0], got[1]
        );
        if got != [ours, systemd] {
            wrong.push(format!(
                "{what}: libbarrier {:?} (expected {ours:?}), systemd {:?} (expected {systemd:?})",
                got[0], got[1]
            ));
        }
    };
    for &(what, case, ours, systemd) in DIFFERENCES {
        let got = both.each_ref().map(|c| seen(|| case(&c.imp)));
        check(what, got, ours, systemd);
    }
    // The calls that answer a bool, on NULL: false here, an assertion in
    // systemd's.
    type BoolFn = unsafe extern "C" fn(*mut RawBarrier) -> bool;
    let bool_calls = |imp: &Impl| -> [(&str, Option<BoolFn>); 6] {
        [
            ("barrier_place(NULL)", imp.place),
            ("barrier_abort(NULL)", imp.abort),
            ("barrier_wait_next(NULL)", imp.wait_next),
            ("barrier_wait_abortion(NULL)", imp.wait_abortion),
            ("barrier_sync_next(NULL)", imp.sync_next),
            ("barrier_sync(NULL)", imp.sync),
        ]
    };
    for n in 0..6 {
        let what = bool_calls(&both[0].imp)[n].0;
        let got = both.each_ref().map(|c| {
            let f = bool_calls(&c.imp)[n].1.unwrap();
            // SAFETY: NULL is what is tested.
            seen(|| u8::from(unsafe { f(std::ptr::null_mut()) }))
        });
        check(what, got, Seen::Returned(0), Seen::Died(libc::SIGABRT));
    }
    assert!(
        wrong.is_empty(),
        "documented differences:\n{}",
        wrong.join("\n")
    );
}
