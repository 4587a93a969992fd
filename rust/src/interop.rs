//! Testing helpers reached only by `rcs_mls.interop` (test vectors, interop peers).
use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
