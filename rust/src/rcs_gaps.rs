//! Where OpenMLS falls short of GSMA RCC.16: our own code on OpenMLS's public API.
use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
