//! `socklab upper`: options in, the library called, its results shown.
