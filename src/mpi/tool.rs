//! The MPI tool information interface (MPI-4.0 chapter 15): reading a
//! control variable, which is how dlb learns which one-sided component Open
//! MPI will pick.

#[cfg(not(dlb_smpi))]
pub(crate) use mpi_t::cvar_string;

/// SimGrid's SMPI has no MPI_T functions: no control variable is known.
#[cfg(dlb_smpi)]
pub(crate) fn cvar_string(name: &str) -> crate::error::Result<Option<String>> {
    let _ = name;
    Ok(None)
}

#[cfg(not(dlb_smpi))]
mod mpi_t {
    use crate::error::Result;
    use crate::mpi::environment::check;
    use dlb_sys as ffi;
    use std::ffi::{c_char, c_int, CStr, CString};
    use std::ptr;

    /// The value of the string control variable `name`, or `None` when the MPI
    /// has no such variable (or it is not a string).
    pub(crate) fn cvar_string(name: &str) -> Result<Option<String>> {
        let mut provided: c_int = 0;
        // SAFETY: MPI_T may be initialized any number of times, before or after
        // MPI_Init (§15.3.4); `provided` is valid. Finalized below.
        check("MPI_T_init_thread", unsafe {
            ffi::MPI_T_init_thread(ffi::DLB_MPI_THREAD_SINGLE, &mut provided)
        })?;
        let value = read_cvar(name);
        // SAFETY: matches the MPI_T_init_thread above.
        let finalized = check("MPI_T_finalize", unsafe { ffi::MPI_T_finalize() });
        let value = value?;
        finalized?;
        Ok(value)
    }

    fn read_cvar(name: &str) -> Result<Option<String>> {
        let c_name = CString::new(name).expect("control variable names have no NUL");
        let mut index: c_int = 0;
        // SAFETY: NUL-terminated name and a valid out-pointer; MPI_T is
        // initialized by the caller.
        if unsafe { ffi::MPI_T_cvar_get_index(c_name.as_ptr(), &mut index) } != ffi::DLB_MPI_SUCCESS
        {
            return Ok(None); // no such variable (MPI_T_ERR_INVALID_NAME)
        }
        // SAFETY: MPI_DATATYPE_NULL is an immutable predefined handle.
        let mut datatype = unsafe { ffi::RSMPI_DATATYPE_NULL };
        let (mut verbosity, mut bind, mut scope): (c_int, c_int, c_int) = (0, 0, 0);
        let mut enumtype: ffi::MPI_T_enum = ptr::null_mut();
        let (mut name_len, mut desc_len): (c_int, c_int) = (0, 0);
        // SAFETY: null name/desc buffers with zero lengths are allowed (§15.3.6);
        // the other out-pointers are valid.
        check("MPI_T_cvar_get_info", unsafe {
            ffi::MPI_T_cvar_get_info(
                index,
                ptr::null_mut(),
                &mut name_len,
                &mut verbosity,
                &mut datatype,
                &mut enumtype,
                ptr::null_mut(),
                &mut desc_len,
                &mut bind,
                &mut scope,
            )
        })?;
        // SAFETY: DLB_MPI_CHAR is an immutable global of the shim.
        if datatype != unsafe { ffi::DLB_MPI_CHAR } {
            return Ok(None);
        }
        let mut handle: ffi::MPI_T_cvar_handle = ptr::null_mut();
        let mut count: c_int = 0;
        // SAFETY: valid index; a null object handle is right for variables not
        // bound to an MPI object (the `osc` selection is global).
        check("MPI_T_cvar_handle_alloc", unsafe {
            ffi::MPI_T_cvar_handle_alloc(index, ptr::null_mut(), &mut handle, &mut count)
        })?;
        let mut buf = vec![0 as c_char; count.max(0) as usize + 1];
        // SAFETY: a string variable holds at most `count` chars; `buf` has one more.
        let read = check("MPI_T_cvar_read", unsafe {
            ffi::MPI_T_cvar_read(handle, buf.as_mut_ptr().cast())
        });
        // SAFETY: the handle was allocated above and is freed once.
        let freed = check("MPI_T_cvar_handle_free", unsafe {
            ffi::MPI_T_cvar_handle_free(&mut handle)
        });
        read?;
        freed?;
        // SAFETY: the last element is never written, so the string is terminated.
        Ok(Some(
            unsafe { CStr::from_ptr(buf.as_ptr()) }
                .to_string_lossy()
                .into_owned(),
        ))
    }
}
