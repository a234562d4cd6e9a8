"""storage/sql"""
