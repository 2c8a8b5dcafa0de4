//! `socklab chat`: options in, the library called, its results shown.
