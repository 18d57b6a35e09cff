pub(crate) mod json;
