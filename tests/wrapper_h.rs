//! The design card names `wrapper.h` at the top level; dlb-sys builds from
//! its own copy (`sys/wrapper.h`) so that it can be packaged alone. They
//! must stay the same.

#[test]
fn sys_builds_from_the_top_level_wrapper_h() {
    let top = include_str!("../wrapper.h");
    let sys = include_str!("../sys/wrapper.h");
    assert!(
        top == sys,
        "sys/wrapper.h differs from wrapper.h: copy wrapper.h to sys/wrapper.h"
    );
}
