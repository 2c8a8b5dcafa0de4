//! `socklab app`: options in, the library called, its results shown.
