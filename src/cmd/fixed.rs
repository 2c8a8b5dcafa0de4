//! `socklab fixed`: options in, the library called, its results shown.
