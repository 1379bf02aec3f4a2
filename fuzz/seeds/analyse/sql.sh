psql -d app <<SQL
DROP TABLE users;
SQL
sqlite3 db <<<'ALTER TABLE t ADD c'
echo 'DROP DATABASE x' | mysql
