"""Placeholder: being written."""

import streamlit as st

st.title("sql_console")
st.info("Coming soon.")
