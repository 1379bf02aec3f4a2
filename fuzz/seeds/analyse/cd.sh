cd a && cd b && git push; (cd c; x); y
pushd /srv; popd; cd -; cd
