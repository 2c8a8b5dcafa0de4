//! `socklab echo`: options in, the library called, its results shown.
