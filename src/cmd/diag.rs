//! `socklab diag`: options in, the library called, its results shown.
